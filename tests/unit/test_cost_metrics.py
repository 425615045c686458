"""The per-model, per-route EMF document of an answer's tokens and cost (kotae.ops.metrics)."""

from __future__ import annotations

import json

import pytest

from kotae.models import Answer, Usage
from kotae.ops import metrics


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "bot")
    metrics.metrics().clear_metrics()
    yield
    metrics.metrics().clear_metrics()


def documents(capsys) -> list[dict]:
    metrics.flush()
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]


def answer(route: str | None, cost: float | None) -> Answer:
    return Answer(
        question="q", text="t", prompt_task="answer", prompt_version="v1",
        model_id="jp.anthropic.claude-haiku-4-5-20251001-v1:0", usage=Usage(input_tokens=321, output_tokens=45),
        route=route, cost_usd=cost,
    )  # fmt: skip


def test_a_routed_answer_has_tokens_and_cost_by_model_and_route(capsys) -> None:
    metrics.answered(answer("light", 0.000546))
    cost, main = documents(capsys)  # printed at once, then the invocation's flush
    directive = cost["_aws"]["CloudWatchMetrics"][0]
    assert sorted(directive["Dimensions"][0]) == ["model", "route", "service"]
    assert (cost["model"], cost["route"], cost["service"]) == (
        "jp.anthropic.claude-haiku-4-5-20251001-v1:0", "light", "bot",
    )  # fmt: skip
    assert [m["Name"] for m in directive["Metrics"]] == ["InputTokens", "OutputTokens", "CostUSD"]
    assert (cost["InputTokens"], cost["OutputTokens"], cost["CostUSD"]) == ([321.0], [45.0], [0.000546])
    # the service-wide document keeps its undimensioned totals
    assert main["InputTokens"] == [321.0] and "model" not in main


def test_an_unpriced_answer_has_tokens_but_no_cost(capsys) -> None:
    metrics.answered(answer("strong", None))
    cost, _ = documents(capsys)
    assert "CostUSD" not in cost and cost["route"] == "strong" and cost["InputTokens"] == [321.0]


def test_an_answer_from_outside_the_pipeline_has_no_route_document(capsys) -> None:
    metrics.answered(answer(None, None))
    assert len(documents(capsys)) == 1


def test_disabled_metrics_print_no_cost_document(monkeypatch, capsys) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    metrics.answered(answer("light", 0.1))
    assert capsys.readouterr().out == ""
