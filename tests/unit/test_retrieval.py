from __future__ import annotations

import pytest

from kotae.answer.retrieval import Retriever, best_per_item, dense_applies, fuse
from kotae.models import Document, Filters
from kotae.providers.base import ScoredDocument
from tests.conftest import faq
from tests.fakes import FakeEmbedder


def scored(key: str, score: float, chunk: int = 0) -> ScoredDocument:
    doc = Document(chunk_id=f"{key}#{chunk:04d}", item_key=key, kind="faq", title=key, text=key)
    return ScoredDocument(doc, score)


def test_best_per_item_keeps_the_best_chunk_of_each_item() -> None:
    found = [scored("a", 1.0, 0), scored("b", 3.0), scored("a", 5.0, 1)]
    best = best_per_item(found)
    assert [(c.document.chunk_id, c.score) for c in best] == [("a#0001", 5.0), ("b#0000", 3.0)]


def test_fuse_is_a_convex_combination_of_min_max_scores() -> None:
    # lexical: a=10 -> 1.0, b=5 -> 0.5, c=0 -> 0.0 ; dense: b=0.9 -> 1.0, d=0.5 -> 0.0
    lexical = [scored("a", 10.0), scored("b", 5.0), scored("c", 0.0)]
    dense = [scored("b", 0.9), scored("d", 0.5)]
    hits = fuse(lexical, dense, alpha=0.8)
    scores = {h.document.item_key: h.score for h in hits}
    assert scores == pytest.approx({"a": 0.2, "b": 0.2 * 0.5 + 0.8 * 1.0, "c": 0.0, "d": 0.0})
    assert [h.document.item_key for h in hits][:2] == ["b", "a"]
    b = next(h for h in hits if h.document.item_key == "b")
    assert (b.lexical_rank, b.dense_rank, b.lexical_score, b.dense_score) == (2, 1, 5.0, 0.9)


def test_fuse_without_dense_keeps_lexical_order_and_ties_keep_first_seen() -> None:
    hits = fuse([scored("a", 2.0), scored("b", 1.0), scored("c", 1.0)], [], alpha=0.8)
    assert [h.document.item_key for h in hits] == ["a", "b", "c"]
    assert hits[0].score == 1.0


def test_fuse_without_lexical_uses_dense_alone() -> None:
    hits = fuse([], [scored("x", 0.7), scored("y", 0.2)], alpha=0.3)
    assert [(h.document.item_key, h.score) for h in hits] == [("x", 1.0), ("y", 0.0)]


def test_fuse_single_candidate_normalizes_to_one() -> None:
    assert fuse([scored("only", 3.3)], [], alpha=0.5)[0].score == 1.0


@pytest.mark.parametrize(
    ("languages", "lang", "expected"),
    [
        pytest.param(None, "ja", True, id="multilingual"),
        pytest.param(frozenset({"en"}), "en", True, id="english-model-english-query"),
        pytest.param(frozenset({"en"}), "ja", False, id="english-model-japanese-query"),
    ],
)
def test_dense_applies(languages, lang, expected) -> None:
    assert dense_applies(FakeEmbedder(languages=languages), lang) is expected


def test_dense_applies_without_embedder() -> None:
    assert dense_applies(None, "en") is False


def _fill(store, embedder) -> None:
    from kotae.indexing.indexer import Indexer
    from kotae.indexing.render import DocumentRenderer
    from tests.conftest import PROMPTS

    indexer = Indexer(DocumentRenderer(PROMPTS), store, embedder)
    indexer.index_many(
        [
            (faq("en-vpn", "How do I connect to the VPN?", "Open GlobalProtect and sign in."), None),
            (faq("ja-vpn", "VPNに接続する方法は？", "GlobalProtectを起動してサインインします。"), None),
            (faq("en-hr", "What are the salary bands?", "Bands G1 to G6.", scopes=["hr"]), None),
        ]
    )


def test_japanese_query_skips_an_english_only_embedder(store) -> None:
    # GIVEN an English-only embedder and a store filled through it
    embedder = FakeEmbedder(languages=frozenset({"en"}))
    _fill(store, embedder)
    embedder.calls.clear()
    retriever = Retriever(store, embedder)
    # WHEN a Japanese question is searched
    hits = retriever.search("VPNの接続方法", 3)
    # THEN the embedder is not asked and the lexical hits come back, graded
    assert embedder.calls == []
    assert hits[0].document.item_key == "ja-vpn"
    assert hits[0].dense_rank is None and hits[0].relevance > 0.5
    # AND an English question uses it
    retriever.search("connect to the VPN", 3)
    assert embedder.calls == [["connect to the VPN"]]


def test_scopes_are_enforced_in_both_retrievers(store) -> None:
    embedder = FakeEmbedder()
    _fill(store, embedder)
    retriever = Retriever(store, embedder)
    public = retriever.search("salary bands", 5, Filters(scopes=("public",)))
    assert "en-hr" not in {h.document.item_key for h in public}
    hr = retriever.search("salary bands", 5, Filters(scopes=("hr",)))
    assert [h.document.item_key for h in hr] == ["en-hr"]


def test_relevance_is_term_coverage_or_similarity(store) -> None:
    _fill(store, None)
    hits = Retriever(store, None, mode="lexical").search("salary bands pizza", 5)
    assert hits[0].document.item_key == "en-hr"
    # "pizza" appears nowhere: coverage is the IDF share of the two terms that matched.
    assert 0.3 < hits[0].relevance < 1.0
    unrelated = Retriever(store, None).search("pizza", 5)
    assert unrelated == []


def test_dense_mode_uses_only_vectors(store) -> None:
    embedder = FakeEmbedder()
    _fill(store, embedder)
    hits = Retriever(store, embedder, mode="dense").search("GlobalProtect sign", 2)
    assert all(h.lexical_rank is None for h in hits)
    assert hits[0].dense_rank == 1
