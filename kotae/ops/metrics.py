"""CloudWatch metrics in Embedded Metric Format, through Powertools Metrics.

The Lambdas print one EMF line per invocation (``flush``); CloudWatch turns it into metrics in
the ``POWERTOOLS_METRICS_NAMESPACE`` namespace (default "kotae") with a ``service`` dimension.
Per-version and per-channel analysis is the answer log's job (Athena); metrics stay
low-cardinality so alarms and dashboards are cheap. See
https://docs.powertools.aws.dev/lambda/python/latest/core/metrics/
"""

from __future__ import annotations

import os
from functools import cache

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from kotae.models import Answer


@cache
def metrics() -> Metrics:
    return Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "kotae"))


def _count(name: str, value: float = 1) -> None:
    _add(name, MetricUnit.Count, value)


def _add(name: str, unit: MetricUnit, value: float) -> None:
    # POWERTOOLS_METRICS_DISABLED (set by `kotae slack`): nothing is kept, nothing printed.
    if not is_metrics_disabled():
        metrics().add_metric(name=name, unit=unit, value=value)


def answered(answer: Answer) -> None:
    """One answer delivered: counted as a refusal when nothing was found, with its latency per
    stage and its tokens."""
    _count("Answers")
    if answer.blocked:
        _count("GuardrailBlocked")
    elif not answer.found:
        _count("Refusals")
    for stage, ms in answer.timings_ms.items():
        _add(f"Latency.{stage}", MetricUnit.Milliseconds, ms)
    _add("Latency.total", MetricUnit.Milliseconds, sum(answer.timings_ms.values()))
    _count("InputTokens", answer.usage.input_tokens)
    _count("OutputTokens", answer.usage.output_tokens)


def answer_failed() -> None:
    _count("AnswerErrors")


def feedback(value: str) -> None:
    _count("FeedbackUp" if value == "up" else "FeedbackDown")


def ingested(applied: int, failed: int, *, skipped: int = 0) -> None:
    """Stream records applied to the index, reported as failures (retried by Lambda), and
    skipped as unusable (no ``dynamodb`` part, so nothing to retry by)."""
    if applied or failed:
        _count("IngestedRecords", applied)
        _count("FailedRecords", failed)
    if skipped:
        _count("SkippedRecords", skipped)


def flush() -> None:
    """Print the invocation's metrics, if any (an ack-only invocation has none)."""
    if metrics().metric_set:
        metrics().flush_metrics()
