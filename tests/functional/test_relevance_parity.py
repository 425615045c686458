"""One relevance definition: the same items in the embedded store and in OpenSearch (the stand-in,
which scores k-NN hits the way OpenSearch documents for the mapping's space type) give the same
term coverage, the same cosine similarities, the same evidence through the answer gate, and the
same outcome: a question the knowledge is silent on is refused on both, a related one answered."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from opensearchpy import OpenSearch, RequestsHttpConnection

from kotae.answer.relevance import term_coverage
from kotae.answer.retrieval import Retriever
from kotae.app import Kotae
from kotae.indexing.indexer import Indexer
from kotae.indexing.loader import read_items
from kotae.indexing.render import DocumentRenderer
from kotae.models import Document, Filters, Item
from kotae.providers import opensearch_queries
from kotae.providers.base import Store, Vector
from kotae.providers.generators import ExtractiveGenerator
from kotae.providers.opensearch_store import OpenSearchStore
from kotae.providers.sqlite_store import SQLiteStore
from kotae.settings import load_settings
from kotae.text import tokenize
from tests.conftest import PROMPTS, SAMPLES
from tests.fakes import FakeEmbedder
from tests.standins.opensearch import OpenSearchStandIn

DIMENSIONS = 256
QUESTIONS = [
    "年次有給休暇は何日付与されますか？",
    "社外からVPNに接続する方法は？",
    "会議室の予約",
    "What parental leave options are available?",
    "How do I connect to the VPN from home?",
    "lost office badge",
    "overtime rules and approval",
    "printer toner",
]
# Questions the sample knowledge says nothing about, and questions it answers (with the item).
UNRELATED = ["How tall is Mount Everest?", "What is the boiling point of mercury?", "ピザの美味しい焼き方"]
RELATED = {"年次有給休暇は何日付与されますか？": "faq-ja-001", "How do I connect to the VPN from home?": "faq-en-003"}


class SignedEmbedder(FakeEmbedder):
    """Bag-of-tokens vectors with a hashed sign per token: unrelated texts have inner products
    on both sides of zero, as real embeddings do, so both branches of the documented faiss
    innerproduct score are exercised (FakeEmbedder's vectors never have a negative one)."""

    name = "signed-fake"

    def embed(self, texts: Sequence[str], *, purpose: str = "document") -> list[Vector]:
        out = []
        for text in texts:
            vec = [0.0] * self.dimensions
            for token in tokenize(text):
                digest = int(hashlib.md5(token.encode()).hexdigest(), 16)
                vec[digest % self.dimensions] += 1.0 if (digest >> 64) & 1 else -1.0
            norm = math.sqrt(sum(v * v for v in vec)) or 1.0
            out.append([v / norm for v in vec])
        return out


@dataclass
class Stores:
    sqlite: SQLiteStore
    opensearch: OpenSearchStore
    embedder: FakeEmbedder


@pytest.fixture(scope="module")
def items() -> list[Item]:
    entries = [entry for _, entry in read_items(SAMPLES / "knowledge.jsonl")]
    assert all(isinstance(entry, Item) for entry in entries)
    return entries  # type: ignore[return-value]


@contextmanager
def indexed(items: list[Item], tmp_path: Path, embedder: FakeEmbedder) -> Iterator[Stores]:
    """The sample knowledge indexed the same way, with the same vectors, into both stores."""
    renderer = DocumentRenderer(PROMPTS)
    with OpenSearchStandIn() as server:
        client = OpenSearch(hosts=[server.url], connection_class=RequestsHttpConnection, max_retries=0)
        opensearch = OpenSearchStore(client, "kotae-parity", DIMENSIONS)
        opensearch.ensure_index()
        sqlite = SQLiteStore(tmp_path / "parity.sqlite3")
        for store in (sqlite, opensearch):
            Indexer(renderer, store, embedder).index_many([(item, None) for item in items])
        try:
            yield Stores(sqlite, opensearch, embedder)
        finally:
            sqlite.close()


@pytest.fixture(params=[FakeEmbedder, SignedEmbedder], ids=["unsigned", "signed"])
def stores(request: pytest.FixtureRequest, tmp_path: Path, items: list[Item]) -> Iterator[Stores]:
    """GIVEN both stores over the sample knowledge, with vectors of either embedder."""
    with indexed(items, tmp_path, request.param(DIMENSIONS)) as both:
        yield both


def chunks(store: SQLiteStore) -> list[Document]:
    return [doc for key in store.item_keys() for doc in store.documents(key)]


def test_both_stores_report_the_same_term_frequencies(stores: Stores) -> None:
    for question in QUESTIONS:
        terms = list(dict.fromkeys(tokenize(question)))
        assert stores.opensearch.term_frequencies(terms) == stores.sqlite.term_frequencies(terms), question


def test_term_coverage_is_the_same_on_both_stores(stores: Stores) -> None:
    # WHEN every question's coverage of every chunk is computed against each store
    documents = chunks(stores.sqlite)
    for question in QUESTIONS:
        embedded = term_coverage(stores.sqlite, question, documents)
        served = term_coverage(stores.opensearch, question, documents)
        # THEN the numbers are the same, and they do weigh terms (not all equal shares)
        assert served == pytest.approx(embedded, abs=1e-12), question
        assert any(0.0 < c < 1.0 for c in embedded), question


def test_vector_scores_are_the_same_cosines_on_both_stores(stores: Stores) -> None:
    # WHEN every chunk is scored against each question by both stores
    every = len(chunks(stores.sqlite))
    below_zero = 0
    for question in QUESTIONS + UNRELATED:
        (vector,) = stores.embedder.embed([question], purpose="query")
        embedded = {h.document.chunk_id: h.score for h in stores.sqlite.vector_search(vector, every, Filters())}
        served = {h.document.chunk_id: h.score for h in stores.opensearch.vector_search(vector, every, Filters())}
        # THEN OpenSearch's documented _score is read back as SQLite's cosine, on both sides of zero
        assert served == pytest.approx(embedded, abs=1e-6), question
        assert all(-1.0 <= s <= 1.0 for s in served.values()), question
        below_zero += sum(1 for s in served.values() if s < 0)
    assert (below_zero > 0) is isinstance(stores.embedder, SignedEmbedder)


def _graded(store: Store, embedder: FakeEmbedder, question: str) -> dict[str, float]:
    hits = Retriever(store, embedder, mode="dense").search(question, 8, Filters())
    return {hit.document.item_key: hit.relevance for hit in hits}


def test_the_answer_gate_admits_the_same_evidence_from_both_stores(stores: Stores) -> None:
    # Dense retrieval ranks alike on both stores (exact k-NN over the same vectors; BM25 differs
    # between FTS5 and OpenSearch analyzers), so the whole relevance can be compared. Hits are
    # compared by key: the order of exact ties is the engine's own, so the last places may hold
    # different chunks of the same (lowest) relevance.
    gate = load_settings().min_relevance
    admitted = refused = 0
    for question in QUESTIONS + UNRELATED:
        embedded = _graded(stores.sqlite, stores.embedder, question)
        served = _graded(stores.opensearch, stores.embedder, question)
        shared = embedded.keys() & served.keys()
        assert {k: served[k] for k in shared} == pytest.approx({k: embedded[k] for k in shared}, abs=2e-4)
        tie = min(embedded.values()) + 2e-4
        assert all(v <= tie for k, v in {**embedded, **served}.items() if k not in shared), question
        evidence = {key for key, relevance in embedded.items() if relevance >= gate}
        assert {key for key, relevance in served.items() if relevance >= gate} == evidence, question
        admitted, refused = admitted + len(evidence), refused + len(embedded) - len(evidence)
    assert admitted and refused  # the gate both lets evidence through and keeps hits out


def _kotae(store: Store, embedder: FakeEmbedder, tmp_path: Path) -> Kotae:
    # The relevance threshold, not the calibrated gate: its dense feature was fitted on MiniLM's
    # cosines, and these test embedders' cosines mean something else.
    settings = load_settings(data_dir=tmp_path / "data", prompts_dir=PROMPTS, answer_gate="threshold")
    return Kotae(settings, store=store, embedder=embedder, generator=ExtractiveGenerator())


def test_the_gate_refuses_what_the_knowledge_is_silent_on_and_answers_the_rest(
    items: list[Item], tmp_path: Path
) -> None:
    # GIVEN both stores with the sample knowledge, the default hybrid retrieval and answer gate
    with indexed(items, tmp_path, SignedEmbedder(DIMENSIONS)) as both:
        for store in (both.sqlite, both.opensearch):
            pipeline = _kotae(store, both.embedder, tmp_path).pipeline
            # WHEN a question the knowledge is silent on is asked THEN it is refused, on both
            for question in UNRELATED:
                answer = pipeline.ask(question)
                assert not answer.found and not answer.citations, (store.name, question)
                assert max(h.relevance for h in answer.hits) < pipeline.min_relevance, (store.name, question)
            # AND a question it answers is answered, citing the item
            for question, key in RELATED.items():
                answer = pipeline.ask(question)
                assert answer.found and key in {c.key for c in answer.citations}, (store.name, question)


def test_unread_scores_would_let_every_question_through(
    items: list[Item], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an adapter that passes OpenSearch's _score on as if it were a cosine (the defect)
    monkeypatch.setattr(opensearch_queries, "cosine", float)
    with indexed(items, tmp_path, SignedEmbedder(DIMENSIONS)) as both:
        pipeline = _kotae(both.opensearch, both.embedder, tmp_path).pipeline
        # WHEN questions the knowledge is silent on are asked THEN OpenSearch answers them all
        for question in UNRELATED:
            answer = pipeline.ask(question)
            assert answer.found and max(h.relevance for h in answer.hits) >= pipeline.min_relevance, question


# -- lexical ranking parity on a Japanese FAQ (kotae.providers.opensearch_lexical) -------------------
HOSHIZORA = Path(__file__).resolve().parents[2] / "bench" / "datasets" / "hoshizora-faq"
# Colloquial questions of the dev set (dialect, kana spellings, particles dropped).
COLLOQUIAL = ["hz-a-q001", "hz-a-q002", "hz-a-q004", "hz-a-q005", "hz-a-q006", "hz-a-q010", "hz-a-q020", "hz-a-q030"]


def _faq_documents() -> list[Document]:
    rows = [json.loads(line) for line in (HOSHIZORA / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    return [
        Document(chunk_id=f"{r['_id']}#0000", item_key=r["_id"], kind="faq", title=r["title"], text=r["text"],
                 chunk_index=0, scopes=["public"], content_hash=r["_id"])
        for r in rows
    ]  # fmt: skip


def test_the_lexical_ranking_is_the_same_on_both_stores(tmp_path: Path) -> None:
    # GIVEN the FAQ's 200 entries in both stores (no vectors: lexical search only)
    questions = {
        (row := json.loads(line))["_id"]: row["text"]
        for line in (HOSHIZORA / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    }
    with OpenSearchStandIn() as server:
        client = OpenSearch(hosts=[server.url], connection_class=RequestsHttpConnection, max_retries=0)
        opensearch = OpenSearchStore(client, "kotae-faq", DIMENSIONS, refresh=True)
        opensearch.ensure_index()
        sqlite = SQLiteStore(tmp_path / "faq.sqlite3")
        for document in _faq_documents():
            for store in (sqlite, opensearch):
                store.write(document.item_key, [document], {})
        # WHEN colloquial questions are asked of both
        same_first, overlap = 0, 0
        for qid in COLLOQUIAL:
            embedded = [h.document.item_key for h in sqlite.lexical_search(questions[qid], 5, Filters())]
            served = [h.document.item_key for h in opensearch.lexical_search(questions[qid], 5, Filters())]
            assert embedded and served, qid
            same_first += embedded[0] == served[0]
            overlap += len(set(embedded[:3]) & set(served[:3]))
        sqlite.close()
    # THEN the rankings agree: the same best entry for nearly all, mostly the same top 3. They
    # are not identical: OpenSearch scores every bigram of a question (the embedded store its
    # rarest 16), combined_fields normalizes by the weighted length (FTS5 the row's), and the
    # idf formulas differ (Lucene's ln(1 + ...) against FTS5's ln(...)).
    assert same_first >= len(COLLOQUIAL) - 1
    assert overlap >= 20  # of 24 (measured: 8 first places and 21 of 24 agree)
