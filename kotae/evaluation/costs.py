"""Cost and routing figures of an answer evaluation, per prompt version.

Each answer carries its route (kotae.answer.routing) and its estimated cost (kotae.ops.costs:
usage × the price file; 0 for an answer that used no tokens, such as the extractive answerer's
or a record answer from the store; None for a model missing from the price file). Per version:

- ``cost_usd_per_answer``: the mean estimated USD over the priced answers (errors have none);
- ``cost_usd_total``: their sum; ``unpriced_answers``: answers without an estimate;
- ``routes``: per route, the questions it took, its answer rate (answered / answerable) and
  right-outcome rate (the ``accuracy`` of kotae.evaluation.answers, record questions included:
  exact figures), and its cost per answer, so a team can see what each route costs and how
  well it answers. Questions that failed have no route and are counted in ``errors`` only.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kotae.evaluation.answers import CaseResult

ROUTE_ORDER = ("light", "strong", "pinned", "none")


def _mean(values: Sequence[float]) -> float | None:
    return round(statistics.fmean(values), 8) if values else None


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def route_figures(results: Sequence[CaseResult]) -> dict[str, Any]:
    """The figures of the questions one route took."""
    answerable = [r for r in results if r.answerable and not r.record_question]
    return {
        "questions": len(results),
        "answer_rate": _rate(sum(1 for r in answerable if r.found), len(answerable)),
        "accuracy": _rate(sum(1 for r in results if r.correct), len(results)),
        "cost_usd_per_answer": _mean([r.cost_usd for r in results if r.cost_usd is not None]),
    }


def cost_figures(results: Sequence[CaseResult]) -> dict[str, Any]:
    """Cost per answer and the figures per route of one prompt version's results."""
    answered = [r for r in results if not r.error]
    priced = [r.cost_usd for r in answered if r.cost_usd is not None]
    by_route: dict[str, list[CaseResult]] = {}
    for result in answered:
        by_route.setdefault(result.route or "none", []).append(result)
    order = [*ROUTE_ORDER, *sorted(set(by_route) - set(ROUTE_ORDER))]
    return {
        "cost_usd_per_answer": _mean(priced),
        "cost_usd_total": round(sum(priced), 6) if priced else None,
        "unpriced_answers": len(answered) - len(priced),
        "routes": {route: route_figures(by_route[route]) for route in order if route in by_route},
    }


def route_rows(summary: dict[str, dict[str, Any]], versions: Sequence[str]) -> list[dict[str, Any]]:
    """One row per (route, version) that has questions, for the reports: routes in rule order."""
    rows = []
    for route in ROUTE_ORDER + tuple(
        sorted({r for v in versions for r in summary[v]["routes"]} - set(ROUTE_ORDER))
    ):
        for version in versions:
            figures = summary[version]["routes"].get(route)
            if figures:
                rows.append({"route": route, "version": version, **figures})
    return rows
