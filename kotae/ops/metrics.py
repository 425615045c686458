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
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit, single_metric
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
    if answer.route is not None:
        _answer_cost(answer, answer.route)


def _answer_cost(answer: Answer, route: str) -> None:
    """The answer's tokens and estimated cost by model and route, printed at once as an EMF
    document of its own (a dimension applies to every metric of its document). A handful of
    models times four routes keeps the dimensions cheap. An unpriced answer has no CostUSD."""
    if is_metrics_disabled():
        return
    document = EphemeralMetrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "kotae"))
    document.add_dimension(name="model", value=answer.model_id)
    document.add_dimension(name="route", value=route)
    document.add_metric(name="InputTokens", unit=MetricUnit.Count, value=answer.usage.input_tokens)
    document.add_metric(name="OutputTokens", unit=MetricUnit.Count, value=answer.usage.output_tokens)
    if answer.cost_usd is not None:
        document.add_metric(name="CostUSD", unit=MetricUnit.NoUnit, value=answer.cost_usd)
    document.flush_metrics()


def rerank_failed() -> None:
    """The reranker could not be reached after retries; the answer used the fused order. (Its
    latency is the answer's ``Latency.rerank``, like every stage's.)"""
    _count("RerankFailures")


def answer_failed() -> None:
    _count("AnswerErrors")


def budget_exceeded(subject: str) -> None:
    """A question refused by a budget, with the subject whose limit it reached (user, channel,
    workspace: three values, so the dimension stays cheap). Printed as its own EMF document,
    because a dimension applies to every metric of a document."""
    if is_metrics_disabled():
        return
    service = os.environ.get("POWERTOOLS_SERVICE_NAME")  # the dimension Metrics() gives the others
    with single_metric(
        name="BudgetExceeded",
        unit=MetricUnit.Count,
        value=1,
        namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "kotae"),
        default_dimensions={"service": service} if service else None,
    ) as metric:
        metric.add_dimension(name="subject", value=subject)


def feedback(value: str) -> None:
    _count("FeedbackUp" if value == "up" else "FeedbackDown")


def feedback_reason(reason: str | None) -> None:
    """A 👎 with the reason given for it (wrong, outdated, not_found, other; "none" when the
    reason modal was closed): a ``Feedback`` count in its own EMF document, with the reason as a
    dimension (five values, so it stays cheap)."""
    if is_metrics_disabled():
        return
    service = os.environ.get("POWERTOOLS_SERVICE_NAME")
    with single_metric(
        name="Feedback",
        unit=MetricUnit.Count,
        value=1,
        namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "kotae"),
        default_dimensions={"service": service} if service else None,
    ) as metric:
        metric.add_dimension(name="reason", value=reason or "none")


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
