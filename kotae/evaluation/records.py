"""Record questions in an answer evaluation: what a question expects of the answer's record
result, and whether the answer gives exactly that.

A dataset line with ``expected_records`` is a record question. Its fields are those of
``kotae ask --json`` ``records`` (RecordResult.public()); each one given (not null) is compared
with the answer's ``records``, and the answer is exact when all of them match:

- ``total``: equal.
- ``keys``: the records listed, newest first. The answer lists at most its query's ``limit``
  (L), so a right answer lists ``m = min(L, total)`` keys (``min(L, len(keys))`` when no total is
  expected). The answer must list exactly m keys, and its first ``min(m, len(keys))`` must equal
  the expected ones in order. A set may therefore hold just the first ``limit`` keys of a long
  list: they are all that is compared.
- ``groups``: the same counts per value (or per pair of values, for two facets). Two-facet groups
  are compared as cells, so "status by version" and "version by status" nestings are the same
  answer; cells with a count of 0 are left out on both sides.
- ``unknown``: the answer reports the same facets as having values no visible record has. The
  closest existing values it suggests are not compared; where its query names the facet, the
  named values must be among it. With no ``unknown`` expected, an answer that reports any is
  wrong (a run that exists was called missing).
- ``unfiltered``: equal (the answer says it counted over everything the asker may see).

An answer with no record result (answered from retrieval, or refused) is a miss, and so is a
question whose answer failed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kotae.records.query import RecordResult


class RecordExpectation(BaseModel):
    """The ``expected_records`` of a dataset line; null or missing fields are not compared."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    total: int | None = Field(default=None, ge=0)
    keys: list[str] | None = None
    groups: dict[str, int | dict[str, int]] | None = None
    unknown: dict[str, list[str]] | None = None
    unfiltered: bool | None = None

    @model_validator(mode="after")
    def _compares_something(self) -> RecordExpectation:
        if all(getattr(self, name) is None for name in ("total", "keys", "groups", "unknown")):
            raise ValueError("expected_records needs total, keys, groups or unknown")
        return self


@dataclass(frozen=True)
class RecordCheck:
    """The verdict on one answer: exact, or the reasons it is not."""

    problems: list[str] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return not self.problems


NO_RESULT = "the answer has no record result (it was answered as a knowledge question, or refused)"


def check_records(expected: RecordExpectation, result: RecordResult | None) -> RecordCheck:
    """Compare an answer's record result with what the question expects (rules: module doc)."""
    if result is None:
        return RecordCheck([NO_RESULT])
    problems = _unknown_problems(expected, result)
    if expected.total is not None and result.total != expected.total:
        problems.append(f"total {result.total}, expected {expected.total}")
    if expected.keys is not None:
        problems += _key_problems(expected, result)
    if expected.groups is not None and _cells(result.groups) != _cells(expected.groups):
        problems.append(f"groups {_short(result.groups)}, expected {_short(expected.groups)}")
    if expected.unfiltered is not None and result.unfiltered != expected.unfiltered:
        problems.append(
            f"unfiltered {str(result.unfiltered).lower()}, expected {str(expected.unfiltered).lower()}"
        )
    return RecordCheck(problems)


def _unknown_problems(expected: RecordExpectation, result: RecordResult) -> list[str]:
    if not expected.unknown:
        return [f"reported unknown values for {', '.join(sorted(result.unknown))}"] if result.unknown else []
    if set(result.unknown) != set(expected.unknown):
        got = ", ".join(sorted(result.unknown)) or "none"
        return [f"unknown facets {got}, expected {', '.join(sorted(expected.unknown))}"]
    problems = []
    for facet, values in sorted(expected.unknown.items()):
        named = result.query.where.get(facet)
        if named is not None and not set(values) <= set(named):
            problems.append(f"the query names {facet} {named}, expected {values}")
    return problems


def _key_problems(expected: RecordExpectation, result: RecordResult) -> list[str]:
    assert expected.keys is not None
    limit = result.query.limit
    wanted = min(limit, expected.total if expected.total is not None else len(expected.keys))
    if len(result.keys) != wanted:
        return [f"{len(result.keys)} keys listed, expected {wanted}"]
    compared = min(wanted, len(expected.keys))
    for rank, (got, want) in enumerate(zip(result.keys[:compared], expected.keys[:compared], strict=True), 1):
        if got != want:
            return [f"key {rank} is {got}, expected {want}"]
    return []


def _cells(groups: Mapping[str, Any]) -> set[tuple[str | tuple[str, str], int]]:
    """Groups as (value or sorted pair of values, count) cells without zeros: a pair's nesting
    order does not matter (facet values of two facets do not coincide)."""
    cells: set[tuple[str | tuple[str, str], int]] = set()
    for value, inner in groups.items():
        if isinstance(inner, Mapping):
            cells.update(((min(value, second), max(value, second)), n) for second, n in inner.items() if n)
        elif inner:
            cells.add((value, inner))
    return cells


def _short(value: Any, limit: int = 160) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def record_figures(scored: Sequence[RecordCheck]) -> dict[str, Any]:
    """The record figures of one prompt version, from the checks of its record questions."""
    exact = sum(1 for c in scored if c.exact)
    return {
        "record_questions": len(scored),
        "record_exact": exact,
        "record_exact_rate": round(exact / len(scored), 4) if scored else None,
        "record_without_result": sum(1 for c in scored if NO_RESULT in c.problems),
    }


def records_line(figures: Mapping[str, Any]) -> str | None:
    """``records: exact 62/64 (96.9%)``, or None when the run had no record questions."""
    if not figures.get("record_questions"):
        return None
    rate = figures["record_exact_rate"] * 100
    return f"records: exact {figures['record_exact']}/{figures['record_questions']} ({rate:.1f}%)"
