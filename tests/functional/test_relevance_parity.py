"""One relevance definition: the same items in the embedded store and in OpenSearch (the stand-in)
give the same term coverage, and the same evidence through the answer gate."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opensearchpy import OpenSearch, RequestsHttpConnection

from kotae.answer.relevance import term_coverage
from kotae.answer.retrieval import Retriever
from kotae.indexing.indexer import Indexer
from kotae.indexing.loader import read_items
from kotae.indexing.render import DocumentRenderer
from kotae.models import Document, Filters, Item
from kotae.providers.base import Store
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


@pytest.fixture(scope="module")
def items() -> list[Item]:
    entries = [entry for _, entry in read_items(SAMPLES / "knowledge.jsonl")]
    assert all(isinstance(entry, Item) for entry in entries)
    return entries  # type: ignore[return-value]


@pytest.fixture
def stores(tmp_path, items: list[Item]) -> Iterator[tuple[SQLiteStore, OpenSearchStore]]:
    """GIVEN the sample knowledge indexed the same way, with the same vectors, into both stores."""
    renderer = DocumentRenderer(PROMPTS)
    with OpenSearchStandIn() as server:
        client = OpenSearch(hosts=[server.url], connection_class=RequestsHttpConnection, max_retries=0)
        opensearch = OpenSearchStore(client, "kotae-parity", DIMENSIONS)
        opensearch.ensure_index()
        sqlite = SQLiteStore(tmp_path / "parity.sqlite3")
        for store in (sqlite, opensearch):
            Indexer(renderer, store, FakeEmbedder(DIMENSIONS)).index_many([(item, None) for item in items])
        yield sqlite, opensearch
        sqlite.close()


def chunks(store: SQLiteStore) -> list[Document]:
    return [doc for key in store.item_keys() for doc in store.documents(key)]


def test_both_stores_report_the_same_term_frequencies(stores) -> None:
    sqlite, opensearch = stores
    for question in QUESTIONS:
        terms = list(dict.fromkeys(tokenize(question)))
        assert opensearch.term_frequencies(terms) == sqlite.term_frequencies(terms), question


def test_term_coverage_is_the_same_on_both_stores(stores) -> None:
    # WHEN every question's coverage of every chunk is computed against each store
    sqlite, opensearch = stores
    documents = chunks(sqlite)
    for question in QUESTIONS:
        embedded = term_coverage(sqlite, question, documents)
        served = term_coverage(opensearch, question, documents)
        # THEN the numbers are the same, and they do weigh terms (not all equal shares)
        assert served == pytest.approx(embedded, abs=1e-12), question
        assert any(0.0 < c < 1.0 for c in embedded), question


def _graded(store: Store, question: str) -> dict[str, float]:
    hits = Retriever(store, FakeEmbedder(DIMENSIONS), mode="dense").search(question, 8, Filters())
    return {hit.document.item_key: hit.relevance for hit in hits}


def test_the_answer_gate_admits_the_same_evidence_from_both_stores(stores) -> None:
    # Dense retrieval ranks alike on both stores (exact k-NN over the same vectors; BM25 differs
    # between FTS5 and OpenSearch analyzers), so the whole relevance can be compared. Hits are
    # compared by key: the order of exact ties is the engine's own.
    sqlite, opensearch = stores
    gate = load_settings().min_relevance
    admitted = refused = 0
    for question in QUESTIONS:
        embedded, served = _graded(sqlite, question), _graded(opensearch, question)
        assert served == pytest.approx(embedded, abs=2e-4), question
        evidence = {key for key, relevance in embedded.items() if relevance >= gate}
        assert {key for key, relevance in served.items() if relevance >= gate} == evidence, question
        admitted, refused = admitted + len(evidence), refused + len(embedded) - len(evidence)
    assert admitted and refused  # the gate both lets evidence through and keeps hits out
