"""The record questions of the evaluation, with expected results worked out from the generated
table by plain Python (filter, sort, count), independently of kotae's stores and parser, so
that the figures test them.

Questions are written the way ops staff ask in Slack, about half in Japanese. Each asks one
thing a record query can answer (a count, a list, the latest, a comparison) about the table,
and a few are bad input: a run that does not exist or that the asker may not see (the answer
must say so, not "0"), and counts that name no run (over everything the asker may see).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kotae.errors import InputError
from kotae.evaluation.records_data import OPS, RESTRICTED, RecordTable

LIST_LIMIT = 10  # the keys expected of a list: the first this many (KOTAE_RECORD_LIST_LIMIT)
BOTH = [OPS, RESTRICTED]

# Per intent, in Japanese and English. {ex}, {ex2}: execution ids; {task}; {version}, {a}, {b}:
# prompt versions; {rid}: a record id.
TEMPLATES: dict[str, dict[str, list[str]]] = {
    "count.failed": {"ja": ["{ex}って何件コケた？", "{ex}の失敗って何件？", "{ex}でエラーになったの何件？"],
                     "en": ["How many records failed in {ex}?", "how many failures in {ex}?", "{ex} how many errors?"]},
    "count.needs_review": {"ja": ["{ex}の要確認って何件ある？", "{ex}、レビュー待ちは何件？"],
                           "en": ["How many records need review in {ex}?", "how many in {ex} need review?"]},
    "count.succeeded": {"ja": ["{ex}で成功したのは何件？"], "en": ["How many succeeded in {ex}?"]},
    "count.all": {"ja": ["{ex}って全部で何件？"], "en": ["How many records are in {ex}?"]},
    "list.failed": {"ja": ["{ex}で失敗したのどれ？", "{ex}のエラー一覧見せて"],
                    "en": ["Which records failed in {ex}?", "list failures in {ex} pls"]},
    "list.needs_review": {"ja": ["一覧出して {ex} の要確認", "{ex}の要確認の一覧ちょうだい"],
                          "en": ["list the records that need review in {ex}", "Which records in {ex} need review?"]},
    "latest.failed": {"ja": ["{task}の直近のエラーは？", "{task}で最新の失敗って何？"],
                      "en": ["latest failure in {task}?", "what's the latest error for {task}?"]},
    "latest.needs_review": {"ja": ["{task}の最新の要確認は？"], "en": ["latest record needing review in {task}?"]},
    "latest.execution": {"ja": ["{ex}の最新のレコードは？"], "en": ["latest record in {ex}?"]},
    "task.failed": {"ja": ["{task}って何件失敗してる？"], "en": ["How many {task} records failed?"]},
    "task.needs_review": {"ja": ["{task}で要確認は何件？"], "en": ["how many need review in {task}?"]},
    "version.failed": {"ja": ["{version}で失敗したのは何件？"], "en": ["how many failed on {version}?"]},
    "version.needs_review": {"ja": ["{version}の要確認って何件？"], "en": ["How many records need review on {version}?"]},
    "compare.versions": {"ja": ["{a}と{b}の結果比較して", "{a}と{b}を比較するとどう？"],
                         "en": ["compare {a} and {b}", "{a} vs {b}, compare the results?"]},
    "compare.executions": {"ja": ["{ex}と{ex2}を比較して"], "en": ["compare {ex} with {ex2}"]},
    "lookup": {"ja": ["{rid}どうなった？", "{rid}の結果見せて"], "en": ["what happened to {rid}?", "status of record {rid}?"]},
    "overall.failed": {"ja": ["全体で何件失敗してる？"], "en": ["how many failed overall?"]},
    "overall.needs_review": {"ja": ["全体で要確認って何件？"], "en": ["how many need review overall?"]},
    "total": {"ja": ["レコードって全部で何件ある？"], "en": ["how many records are there in total?"]},
    "unscoped.failed": {"ja": ["失敗って何件ある？"], "en": ["how many failed?"]},
}  # fmt: skip


@dataclass(frozen=True)
class Asked:
    """What a question asks, in the terms of a record query, to work out its expected result."""

    operation: str  # count | list | latest | group
    where: dict[str, tuple[str, ...]] = field(default_factory=dict)
    group_by: tuple[str, ...] = ()
    unknown: dict[str, tuple[str, ...]] | None = None  # named values that no visible record has
    unfiltered: bool | None = None


def visible(records: Iterable[dict[str, Any]], scopes: Sequence[str]) -> list[dict[str, Any]]:
    """The records an asker with ``scopes`` may see: those sharing one of the scopes."""
    return [r for r in records if set(r.get("scopes", [])) & set(scopes)]


def matching(records: Iterable[dict[str, Any]], where: dict[str, tuple[str, ...]]) -> list[dict[str, Any]]:
    return [r for r in records if all(str(r.get(name)) in values for name, values in where.items())]


def _instant(record: dict[str, Any]) -> float | None:
    stamp = record.get("updated_at")
    return datetime.fromisoformat(stamp).timestamp() if isinstance(stamp, str) else None


def newest_first(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Newest ``updated_at`` first, ties by item key, records without a time last."""
    by_key = sorted(records, key=lambda r: r["item_key"])
    return sorted(by_key, key=lambda r: (_instant(r) is None, -(_instant(r) or 0.0)))


def expected(
    records: Sequence[dict[str, Any]], scopes: Sequence[str], asked: Asked, *, list_limit: int = LIST_LIMIT
) -> dict[str, Any]:
    """The ``expected_records`` of a question asked with ``scopes``: total, keys, groups,
    unknown, unfiltered (None where the question does not ask for it)."""
    return expected_among(visible(records, scopes), asked, list_limit=list_limit)


def expected_among(
    seen: Sequence[dict[str, Any]], asked: Asked, *, list_limit: int = LIST_LIMIT
) -> dict[str, Any]:
    """As :func:`expected`, over the records the asker sees."""
    result: dict[str, Any] = {"total": None, "keys": None, "groups": None, "unknown": None}
    result["unfiltered"] = asked.unfiltered
    if asked.unknown:
        return {**result, "unknown": {facet: list(values) for facet, values in asked.unknown.items()}}
    rows = matching(seen, asked.where)
    result["total"] = len(rows)
    if asked.operation in ("list", "latest"):
        result["keys"] = [r["item_key"] for r in newest_first(rows)[:list_limit]]
    elif asked.operation == "group":
        result["groups"] = _groups(rows, asked.group_by)
    return result


def _groups(rows: Sequence[dict[str, Any]], group_by: Sequence[str]) -> dict[str, Any]:
    """Counts by one facet, or by two as value -> second value -> count (no zero cells)."""
    first, *rest = group_by
    if not rest:
        return dict(sorted(Counter(str(r.get(first)) for r in rows).items()))
    groups: dict[str, Any] = {}
    for (a, b), n in sorted(Counter((str(r.get(first)), str(r.get(rest[0]))) for r in rows).items()):
        groups.setdefault(a, {})[b] = n
    return groups


class _Slots:
    """Draws the values questions are about, spread over the table rather than repeated."""

    def __init__(self, rng: random.Random, table: RecordTable, everything: Sequence[dict[str, Any]]) -> None:
        self.rng = rng
        self.everything = everything
        self.ops = visible(everything, [OPS])
        counts = Counter((r["execution_id"], r["status"]) for r in self.ops)
        self.status_counts = counts
        self.open = sorted({e for e, _ in counts})
        self.tasks = {r["execution_id"]: r["task_name"] for r in self.ops}
        self.hidden = sorted({e.execution_id for e in table.executions if e.restricted})
        self._cycle: list[str] = []

    def execution(self) -> str:
        if not self._cycle:
            self._cycle = self.rng.sample(self.open, len(self.open))
        return self._cycle.pop()

    def same_task(self, execution: str) -> str:
        """Another run of the same task (what one compares a run with), else any other run."""
        task = self.tasks[execution]
        others = [e for e in self.open if e != execution and self.tasks[e] == task]
        return self.rng.choice(others or [e for e in self.open if e != execution])

    def fewest(self, status: str) -> str:
        """The run with the fewest (but some) records of ``status``: a list that is not cut."""
        some = [e for e in self.open if self.status_counts[(e, status)]]
        return min(some or self.open, key=lambda e: (self.status_counts[(e, status)], e))

    def values(self, facet: str) -> list[str]:
        return sorted({str(r[facet]) for r in self.ops if r.get(facet)})

    def record(self, status: str | None) -> dict[str, Any]:
        pool = [r for r in self.ops if status is None or r["status"] == status] or self.ops
        return self.rng.choice(pool)

    def missing_execution(self, index: int) -> str:
        """An id that no record has: a second or third run on a run's night, or a night without runs."""
        taken = {str(r.get("execution_id")) for r in self.everything}
        day = self.open[index * 7 % len(self.open)][3:11]
        for number in range(2, 100):
            candidate = f"ex-{day}-{number:02d}"
            if candidate not in taken:
                return candidate
        raise InputError(f"no free execution id on {day}")  # pragma: no cover - 98 runs a night

    def missing_record(self) -> str:
        ids = [str(r["record_id"]) for r in self.everything if str(r.get("record_id", "")).startswith("r-")]
        width = max(len(i) - 2 for i in ids)
        return f"r-{max(int(i[2:]) for i in ids if i[2:].isdigit()) + 1:0{width}d}"


def build_questions(table: RecordTable, base: Sequence[dict[str, Any]] = (), *, seed: int = 0,
                    list_limit: int = LIST_LIMIT) -> list[dict[str, Any]]:  # fmt: skip
    """The question set for ``table`` (and ``base``: records already in the knowledge, which
    count in the expected figures), with expected results for each asker's scopes."""
    everything = [*base, *table.records]
    rng = random.Random(seed * 7919 + 17)
    slots = _Slots(rng, table, everything)
    seen: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    questions = []
    for intent, fields, asked, scopes in _plan(slots):
        if tuple(scopes) not in seen:
            seen[tuple(scopes)] = visible(everything, scopes)
        rows = seen[tuple(scopes)]
        lang = "ja" if len(questions) % 2 == 0 else "en"
        text = rng.choice(TEMPLATES[intent][lang]).format(**fields)
        questions.append(
            {
                "id": f"rq-{len(questions) + 1:03d}",
                "lang": lang,
                "question": text,
                "scopes": scopes,
                "note": intent,
                "expected_records": expected_among(rows, asked, list_limit=list_limit),
            }
        )
    return questions


Planned = tuple[str, dict[str, str], Asked, list[str]]  # intent, template fields, asked, scopes


def _plan(slots: _Slots) -> Iterable[Planned]:
    """(intent, template fields, what is asked, asker's scopes) for every question."""
    yield from _about_runs(slots)
    yield from _about_facets(slots)
    yield from _comparisons(slots, slots.values("prompt_version"))
    for status in ("failed", "failed", "needs_review", None):
        rid = slots.record(status)["record_id"]
        yield "lookup", {"rid": rid}, Asked("list", {"record_id": (rid,)}), [OPS]
    yield from _overall()
    yield from _bad_input(slots)


def _in_run(operation: str, ex: str, status: str | None = None) -> Asked:
    where = {"execution_id": (ex,), **({"status": (status,)} if status else {})}
    return Asked(operation, where)


def _about_runs(slots: _Slots) -> Iterable[Planned]:
    """Counts, lists and the latest record of one execution."""
    for status, times in (("failed", 6), ("needs_review", 5), ("succeeded", 3)):
        for _ in range(times):
            ex = slots.execution()
            yield f"count.{status}", {"ex": ex}, _in_run("count", ex, status), [OPS]
    for _ in range(4):
        ex = slots.execution()
        yield "count.all", {"ex": ex}, _in_run("count", ex), [OPS]
    for status in ("failed", "needs_review"):
        for ex in (slots.fewest(status), slots.execution(), slots.execution(), slots.execution()):
            yield f"list.{status}", {"ex": ex}, _in_run("list", ex, status), [OPS]
    for _ in range(2):
        ex = slots.execution()
        yield "latest.execution", {"ex": ex}, _in_run("latest", ex), [OPS]


def _about_facets(slots: _Slots) -> Iterable[Planned]:
    """The latest failures and counts of a task, and counts of a prompt version, over all runs."""
    tasks = slots.values("task_name")
    for index, status in enumerate(["failed"] * 4 + ["needs_review"] * 2):
        task = tasks[index % len(tasks)]
        yield (
            f"latest.{status}",
            {"task": task},
            Asked("latest", {"task_name": (task,), "status": (status,)}),
            [OPS],
        )
    for index, status in enumerate(["failed"] * 3 + ["needs_review"] * 3):
        task = tasks[(index + 1) % len(tasks)]
        yield (
            f"task.{status}",
            {"task": task},
            Asked("count", {"task_name": (task,), "status": (status,)}),
            [OPS],
        )
    versions = slots.values("prompt_version")
    for index, status in enumerate(["failed", "failed", "needs_review", "needs_review"]):
        version = versions[(index * 3 + 1) % len(versions)]
        where = {"prompt_version": (version,), "status": (status,)}
        yield f"version.{status}", {"version": version}, Asked("count", where), [OPS]


def _comparisons(slots: _Slots, versions: list[str]) -> Iterable[Planned]:
    pairs = [("v3", "v2"), ("v1", "v4"), ("v2", "v1"), ("v4", "v3")]
    for a, b in [(a, b) for a, b in pairs if a in versions and b in versions]:
        asked = Asked("group", {"prompt_version": (a, b)}, ("prompt_version", "status"))
        yield "compare.versions", {"a": a, "b": b}, asked, [OPS]
    for _ in range(2):
        ex = slots.execution()
        ex2 = slots.same_task(ex)
        asked = Asked("group", {"execution_id": (ex, ex2)}, ("execution_id", "status"))
        yield "compare.executions", {"ex": ex, "ex2": ex2}, asked, [OPS]


def _overall() -> Iterable[Planned]:
    """Counts that name no run: over everything the asker may see, and said to be unfiltered."""
    for status in ("failed", "needs_review"):
        yield f"overall.{status}", {}, Asked("count", {"status": (status,)}, unfiltered=True), [OPS]
    for _ in range(2):
        yield "total", {}, Asked("count", unfiltered=True), [OPS]


def _bad_input(slots: _Slots) -> Iterable[Planned]:
    """Runs that do not exist, runs the asker may not see, a record past the last, and a count
    that names no run, asked from each of two scopes."""
    for index, intent in enumerate(["count.failed", "count.needs_review", "list.needs_review"]):
        ex = slots.missing_execution(index)
        yield intent, {"ex": ex}, Asked("count", unknown={"execution_id": (ex,)}), [OPS]
    for index, hidden in enumerate((slots.hidden * 2)[:2]):
        intent = "count.failed" if index % 2 == 0 else "count.needs_review"
        yield intent, {"ex": hidden}, Asked("count", unknown={"execution_id": (hidden,)}), [OPS]
        status = intent.split(".")[1]
        yield intent, {"ex": hidden}, Asked("count", {"execution_id": (hidden,), "status": (status,)}), BOTH
    rid = slots.missing_record()
    yield "lookup", {"rid": rid}, Asked("list", unknown={"record_id": (rid,)}), [OPS]
    for scopes in ([OPS], BOTH):
        yield "unscoped.failed", {}, Asked("count", {"status": ("failed",)}, unfiltered=True), scopes
