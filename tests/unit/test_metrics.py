"""EMF metrics: what each event adds, read back from the printed EMF document."""

from __future__ import annotations

import json

import pytest

from kotae.models import Answer, Usage
from kotae.ops import metrics


@pytest.fixture(autouse=True)
def clean():
    metrics.metrics().clear_metrics()
    yield
    metrics.metrics().clear_metrics()


def emitted(capsys) -> dict:
    """The flushed EMF document: {metric name: [values]} plus its namespace."""
    metrics.flush()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert len(lines) == 1
    doc = lines[0]
    directive = doc["_aws"]["CloudWatchMetrics"][0]
    names = [m["Name"] for m in directive["Metrics"]]
    values = {n: doc[n] if isinstance(doc[n], list) else [doc[n]] for n in names}
    return {"namespace": directive["Namespace"], **values}


def answer(found: bool) -> Answer:
    return Answer(
        question="q", text="t", found=found, prompt_task="answer", prompt_version="v1", model_id="m",
        usage=Usage(input_tokens=300, output_tokens=40), timings_ms={"retrieve": 12.5, "generate": 800.0},
    )  # fmt: skip


def test_an_answer_counts_with_latency_per_stage_and_tokens(capsys) -> None:
    metrics.answered(answer(found=True))
    doc = emitted(capsys)
    assert doc["namespace"] == "kotae"
    assert doc["Answers"] == [1.0] and "Refusals" not in doc
    assert (
        doc["Latency.retrieve"] == [12.5]
        and doc["Latency.generate"] == [800.0]
        and doc["Latency.total"] == [812.5]
    )
    assert doc["InputTokens"] == [300.0] and doc["OutputTokens"] == [40.0]


def test_refusals_errors_and_feedback(capsys) -> None:
    metrics.answered(answer(found=False))
    metrics.answered(answer(found=True))
    metrics.answer_failed()
    metrics.feedback("up")
    metrics.feedback("down")
    metrics.feedback("down")
    doc = emitted(capsys)
    assert doc["Answers"] == [1.0, 1.0] and doc["Refusals"] == [1.0] and doc["AnswerErrors"] == [1.0]
    assert doc["FeedbackUp"] == [1.0] and doc["FeedbackDown"] == [1.0, 1.0]


def test_ingest_counts(capsys) -> None:
    metrics.ingested(23, 2, skipped=1)
    doc = emitted(capsys)
    assert (doc["IngestedRecords"], doc["FailedRecords"], doc["SkippedRecords"]) == ([23.0], [2.0], [1.0])


def test_an_invocation_without_metrics_prints_nothing(capsys) -> None:
    metrics.flush()
    assert capsys.readouterr().out == ""


def test_the_namespace_comes_from_the_powertools_variable(monkeypatch, capsys) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "kotae-staging")
    metrics.metrics.cache_clear()
    try:
        metrics.answer_failed()
        assert emitted(capsys)["namespace"] == "kotae-staging"
    finally:
        metrics.metrics.cache_clear()


def test_disabled_metrics_are_neither_kept_nor_printed(monkeypatch, capsys) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    metrics.answered(answer(found=True))
    metrics.ingested(1, 0)
    assert metrics.metrics().metric_set == {}
    metrics.flush()
    assert capsys.readouterr().out == ""
