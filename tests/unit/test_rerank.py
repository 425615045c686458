"""Reranking after fusion: the Rerank request, its results, and the Retriever's use of them."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from kotae.answer.retrieval import Retriever, reorder, rerank_text
from kotae.errors import ConfigError, ProviderError, ProviderThrottled
from kotae.indexing.indexer import Indexer
from kotae.indexing.render import DocumentRenderer
from kotae.models import Document, SearchHit
from kotae.ops import metrics
from kotae.providers import RERANKERS
from kotae.providers.rerankers import BedrockReranker, model_arn, parse_results, rerank_request
from kotae.settings import load_settings
from tests.conftest import PROMPTS, faq

ARN = "arn:aws:bedrock:ap-northeast-1::foundation-model/amazon.rerank-v1:0"


class FakeReranker:
    """Scores by a table of item-key markers in the text (default 0.0); keeps every call."""

    model_id = "fake-rerank"

    def __init__(self, scores: dict[str, float] | None = None, error: Exception | None = None) -> None:
        self.scores = scores or {}
        self.error = error
        self.calls: list[tuple[str, list[str]]] = []

    def rerank(self, query: str, texts: Sequence[str]) -> list[tuple[int, float]]:
        self.calls.append((query, list(texts)))
        if self.error is not None:
            raise self.error
        scored = [(i, next((s for m, s in self.scores.items() if m in t), 0.0)) for i, t in enumerate(texts)]
        return sorted(scored, key=lambda pair: -pair[1])


def hit(key: str, title: str = "", text: str = "") -> SearchHit:
    doc = Document(chunk_id=f"{key}#0000", item_key=key, kind="faq", title=title or key, text=text or key)
    return SearchHit(document=doc, score=0.5)


@pytest.fixture
def loaded(store):
    """Six VPN-ish FAQs: lexical search ranks them by how often they say 'vpn'."""
    items = [faq(f"f{i}", f"VPN question {i}", "vpn " * (6 - i) + f"marker{i}") for i in range(6)]
    indexer = Indexer(DocumentRenderer(PROMPTS), store, None)
    for item in items:
        indexer.index(item)
    return store


def test_the_request_body_is_the_documented_shape() -> None:
    body = rerank_request("how do I connect", ["first", "", "x" * 40_000], ARN)
    assert body["queries"] == [{"type": "TEXT", "textQuery": {"text": "how do I connect"}}]
    texts = [s["inlineDocumentSource"]["textDocument"]["text"] for s in body["sources"]]
    assert texts[0] == "first" and texts[1] == " " and len(texts[2]) == 32_000
    assert {s["type"] for s in body["sources"]} == {"INLINE"}
    assert {s["inlineDocumentSource"]["type"] for s in body["sources"]} == {"TEXT"}
    assert body["rerankingConfiguration"] == {
        "type": "BEDROCK_RERANKING_MODEL",
        "bedrockRerankingConfiguration": {"modelConfiguration": {"modelArn": ARN}, "numberOfResults": 3},
    }


def test_the_model_arn_is_the_regional_foundation_model() -> None:
    assert model_arn("ap-northeast-1", "amazon.rerank-v1:0") == ARN


def test_results_come_best_first_each_index_once() -> None:
    response = {"results": [{"index": 2, "relevanceScore": 0.1}, {"index": 0, "relevanceScore": 0.9},
                            {"index": 2, "relevanceScore": 0.05}, {"index": 1, "relevanceScore": 0.9}]}  # fmt: skip
    assert parse_results(response, 3) == [(0, 0.9), (1, 0.9), (2, 0.1)]


@pytest.mark.parametrize(
    "result",
    [
        pytest.param({"index": 3, "relevanceScore": 0.5}, id="index-not-sent"),
        pytest.param({"index": -1, "relevanceScore": 0.5}, id="negative-index"),
        pytest.param({"relevanceScore": 0.5}, id="no-index"),
        pytest.param({"index": 0, "relevanceScore": "high"}, id="score-not-a-number"),
    ],
)
def test_an_unusable_result_is_a_provider_error(result: dict) -> None:
    with pytest.raises(ProviderError, match="unusable result"):
        parse_results({"results": [result]}, 3)


def test_reorder_puts_ranked_hits_first_with_their_scores() -> None:
    hits = [hit("a"), hit("b"), hit("c")]
    ordered = reorder(hits, [(2, 0.8), (0, 0.3)])
    assert [h.document.item_key for h in ordered] == ["c", "a", "b"]
    assert [h.rerank_score for h in ordered] == [0.8, 0.3, None]


def test_rerank_text_names_the_title_once() -> None:
    assert rerank_text(hit("k", title="Title", text="Title\nbody")) == "Title\nbody"
    assert rerank_text(hit("k", title="Title", text="body")) == "Title\nbody"


def test_the_reranker_reorders_the_fused_hits_and_scores_them(loaded) -> None:
    reranker = FakeReranker({"marker4": 0.9, "marker1": 0.4})
    plain = Retriever(loaded, None, mode="lexical").search("vpn", 3)
    assert [h.document.item_key for h in plain] == ["f0", "f1", "f2"]
    hits = Retriever(loaded, None, mode="lexical", reranker=reranker, rerank_top_n=6).search("vpn", 3)
    assert [h.document.item_key for h in hits] == ["f4", "f1", "f0"]
    assert [h.rerank_score for h in hits] == [0.9, 0.4, 0.0]
    assert all(h.relevance > 0 for h in hits)  # graded before reranking, kept through it
    (query, texts), = reranker.calls  # fmt: skip
    assert query == "vpn" and len(texts) == 6


def test_only_the_top_n_are_reranked_and_the_rest_keep_the_fused_order(loaded) -> None:
    reranker = FakeReranker({"marker1": 0.9})
    retriever = Retriever(loaded, None, mode="lexical", reranker=reranker, rerank_top_n=2)
    hits = retriever.search("vpn", 4)
    assert len(reranker.calls[0][1]) == 2
    assert [h.document.item_key for h in hits] == ["f1", "f0", "f2", "f3"]
    assert [h.rerank_score for h in hits] == [0.9, 0.0, None, None]


def test_search_reports_its_stages(loaded) -> None:
    stages: list[str] = []
    Retriever(loaded, None, mode="lexical").search("vpn", 2, lap=stages.append)
    assert stages == ["retrieve"]
    stages.clear()
    Retriever(loaded, None, mode="lexical", reranker=FakeReranker()).search("vpn", 2, lap=stages.append)
    assert stages == ["retrieve", "rerank"]


def test_a_failing_reranker_leaves_the_fused_order_and_counts_it(loaded, caplog, capsys) -> None:
    metrics.metrics().clear_metrics()
    reranker = FakeReranker(error=ProviderThrottled("reranking: throttled after retries"))
    retriever = Retriever(loaded, None, mode="lexical", reranker=reranker)
    with caplog.at_level("WARNING", logger="kotae.answer.retrieval"):
        hits = retriever.search("vpn", 3)
    assert [h.document.item_key for h in hits] == ["f0", "f1", "f2"]
    assert all(h.rerank_score is None for h in hits)
    assert "reranking failed" in caplog.text
    assert metrics.metrics().metric_set["RerankFailures"]["Value"] == [1.0]
    metrics.metrics().clear_metrics()


def test_no_hits_means_no_rerank_call(store) -> None:
    reranker = FakeReranker()
    assert Retriever(store, None, reranker=reranker).search("anything", 3) == []
    assert reranker.calls == []


def test_the_registry_builds_the_configured_reranker(tmp_path) -> None:
    assert RERANKERS.create("none", load_settings(data_dir=tmp_path)) is None
    settings = load_settings(data_dir=tmp_path, reranker="bedrock", rerank_model_id="cohere.rerank-v3-5:0",
                             aws_region="us-west-2")  # fmt: skip
    reranker = RERANKERS.create("bedrock", settings)
    assert isinstance(reranker, BedrockReranker)
    assert reranker.arn == "arn:aws:bedrock:us-west-2::foundation-model/cohere.rerank-v3-5:0"


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param({"reranker": "cohere"}, id="unknown-reranker"),
        pytest.param({"rerank_model_id": "amazon.titan-embed-text-v2:0"}, id="not-a-rerank-model"),
        pytest.param({"rerank_top_n": 0}, id="top-n-zero"),
        pytest.param({"rerank_top_n": 101}, id="top-n-too-large"),
    ],
)
def test_bad_rerank_settings_are_refused(settings: dict, tmp_path) -> None:
    with pytest.raises(ConfigError, match="KOTAE_RERANK"):
        load_settings(data_dir=tmp_path, **settings)
