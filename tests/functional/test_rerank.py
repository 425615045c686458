"""Bedrock Rerank through a real bedrock-agent-runtime client against the local stand-in."""

from __future__ import annotations

import pytest

from kotae.answer.retrieval import Retriever
from kotae.errors import ProviderError, ProviderThrottled, ProviderUnavailable
from kotae.providers.rerankers import BedrockReranker, rerank_request
from tests.conftest import SAMPLES
from tests.standins.bedrock import Fault
from tests.standins.bedrock_rerank import agent_runtime_client, body_problem, rerank_standin

MODEL = "amazon.rerank-v1:0"


@pytest.fixture
def standin():
    with rerank_standin() as state:
        yield state


def reranker(url: str, attempts: int = 3) -> BedrockReranker:
    return BedrockReranker(agent_runtime_client(url, attempts), model_id=MODEL, region="ap-northeast-1")


def test_rerank_sends_the_documented_body_and_orders_by_score(standin) -> None:
    standin.scores = {"second": 0.93, "first": 0.12, "third": 0.01}
    ranked = reranker(standin.url).rerank("which one", ["first text", "second text", "third"])
    assert [index for index, _ in ranked] == [1, 0, 2]
    assert ranked[0] == (1, 0.93)
    (sent,) = standin.requests
    assert sent["queries"] == [{"type": "TEXT", "textQuery": {"text": "which one"}}]
    assert [s["inlineDocumentSource"]["textDocument"]["text"] for s in sent["sources"]] == [
        "first text", "second text", "third"
    ]  # fmt: skip
    config = sent["rerankingConfiguration"]["bedrockRerankingConfiguration"]
    assert config == {
        "modelConfiguration": {"modelArn": f"arn:aws:bedrock:ap-northeast-1::foundation-model/{MODEL}"},
        "numberOfResults": 3,
    }


def test_throttling_is_retried_by_botocore(standin) -> None:
    standin.faults.append(Fault(429, "ThrottlingException"))
    assert reranker(standin.url).rerank("q", ["a"]) == [(0, 0.0)]
    assert len(standin.requests) == 2


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        pytest.param(Fault(429, "ThrottlingException"), ProviderThrottled, id="throttled"),
        pytest.param(Fault(503, "ServiceUnavailableException"), ProviderUnavailable, id="unavailable"),
        pytest.param(Fault(403, "AccessDeniedException"), ProviderError, id="access-denied"),
    ],
)
def test_errors_left_after_retries_are_translated(standin, fault: Fault, error: type) -> None:
    standin.faults.extend([fault] * 2)
    with pytest.raises(error, match="reranking with amazon.rerank-v1:0"):
        reranker(standin.url, attempts=2).rerank("q", ["a"])


def test_no_texts_means_no_call(standin) -> None:
    assert reranker(standin.url).rerank("q", []) == []
    assert standin.requests == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        pytest.param(lambda b: b.update(queries=[]), "exactly one query", id="no-query"),
        pytest.param(lambda b: b["queries"][0].update(type="IMAGE"), "type TEXT", id="query-type"),
        pytest.param(lambda b: b.update(sources=[]), "1 to 1000 sources", id="no-sources"),
        pytest.param(lambda b: b["sources"][0].update(type="S3"), "INLINE", id="source-type"),
        pytest.param(
            lambda b: b["sources"][0]["inlineDocumentSource"]["textDocument"].update(text=""),
            "textDocument.text", id="empty-text",
        ),
        pytest.param(lambda b: b["rerankingConfiguration"].update(type="OTHER"), "BEDROCK_RERANKING_MODEL",
                     id="config-type"),
        pytest.param(
            lambda b: b["rerankingConfiguration"]["bedrockRerankingConfiguration"]["modelConfiguration"].update(
                modelArn="arn:aws:bedrock:ap-northeast-1::foundation-model/amazon.titan-embed-text-v2:0"
            ),
            "reranker model", id="not-a-reranker",
        ),
        pytest.param(
            lambda b: b["rerankingConfiguration"]["bedrockRerankingConfiguration"].update(numberOfResults=0),
            "numberOfResults", id="zero-results",
        ),
    ],
)  # fmt: skip
def test_the_standin_refuses_what_rerank_refuses(change, problem: str) -> None:
    body = rerank_request("q", ["a", "b"], f"arn:aws:bedrock:ap-northeast-1::foundation-model/{MODEL}")
    assert body_problem(body) is None
    change(body)
    assert problem in (body_problem(body) or "")


@pytest.fixture
def redirected(standin, monkeypatch):
    """AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME points the registry's client at the stand-in."""
    import kotae.aws

    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME", standin.url)
    kotae.aws.client.cache_clear()
    yield standin
    kotae.aws.client.cache_clear()


def test_an_answer_is_reranked_through_the_registry(redirected, make_kotae) -> None:
    """KOTAE_RERANKER=bedrock with the endpoint redirected: the answer's hits carry the
    reranker's scores in its order, and its timings a rerank stage."""
    # The threshold gate: the calibrated one judges the scripted reranker's arbitrary first hit.
    app = make_kotae(reranker="bedrock", aws_region="ap-northeast-1", rerank_top_n=2, answer_gate="threshold")
    _load_samples(app)
    question = "How do I connect to the VPN from home?"
    fused = Retriever(app.store, None).search(question, 5)
    redirected.scores = {fused[1].document.text[:40]: 0.99, fused[0].document.text[:40]: 0.42}
    answer = app.pipeline.ask(question)
    assert len(redirected.requests) == 1 and len(redirected.requests[0]["sources"]) == 2
    keys = [h.document.item_key for h in answer.hits]
    assert keys == [fused[1].document.item_key, fused[0].document.item_key] + [
        h.document.item_key for h in fused[2:]
    ]
    assert [h.rerank_score for h in answer.hits] == [0.99, 0.42] + [None] * (len(fused) - 2)
    assert "rerank" in answer.timings_ms and answer.found


def test_an_unreachable_reranker_does_not_fail_the_answer(redirected, make_kotae) -> None:
    app = make_kotae(reranker="bedrock", aws_region="ap-northeast-1")
    _load_samples(app)
    redirected.faults.extend([Fault(503, "ServiceUnavailableException")] * 3)
    answer = app.pipeline.ask("How do I connect to the VPN from home?")
    assert len(redirected.requests) == 3  # botocore's three attempts, then the fused order
    assert answer.found and answer.hits and all(h.rerank_score is None for h in answer.hits)


def _load_samples(app) -> None:
    import json

    from kotae.models import Item

    for line in (SAMPLES / "knowledge.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            app.indexer.index(Item.from_mapping(json.loads(line)))
