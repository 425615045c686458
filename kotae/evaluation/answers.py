"""Answer evaluation: run the pipeline over a question set per prompt version and score it.

A dataset line is ``{"id", "question", "expected_keys": [...], "answerable": bool, "scopes"?,
"lang"?, "reference"?}``. ``expected_keys`` lists the items that hold the answer; any one of them
is enough (a Japanese FAQ and its English twin are both right).

Per question, from the Answer's own trace:
- retrieval hit: an expected key is among the retrieved items (reciprocal rank for MRR); the
  records a record query listed count as retrieved, after the search hits;
- citations valid: every ``[Sn]`` in the text names a source the answer was given (the
  pipeline drops others from ``citations``, so the text is compared with them);
- expected cited: an answered, answerable question cites an expected key;
- outcome: answerable ones should be answered, unanswerable ones refused;
- judge (optional): faithfulness and correctness from 1 to 5, by an LLM with a versioned prompt.
The per-version summary is what :func:`summarize` returns; every figure is defined there,
the cost and per-route figures in kotae.evaluation.costs.

A line with ``expected_records`` instead is a record question (kotae.evaluation.records): it is
scored exact or not on the answer's record result, and counts only in the ``record_*`` figures,
so the FAQ figures of a set are the same with or without record questions beside them.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from kotae.errors import InputError, JudgeReplyError, KotaeError
from kotae.evaluation.costs import cost_figures
from kotae.evaluation.records import RecordCheck, RecordExpectation, check_records, record_figures
from kotae.models import Answer

_CITED_ID = re.compile(r"\[(S\d+)\]")


class EvalCase(BaseModel):
    id: str
    question: str
    expected_keys: list[str] = Field(default_factory=list)
    answerable: bool = True
    scopes: list[str] | None = None
    lang: str | None = None
    reference: str = ""
    expected_records: RecordExpectation | None = None
    # A line `kotae eval dataset` wrote for a person to complete (kotae.evaluation.feedback_dataset).
    needs_review: bool = False


def load_cases(path: Path) -> list[EvalCase]:
    """Every line must parse: a silently skipped question would change the figures."""
    cases, problems = [], []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            case = EvalCase.model_validate_json(line)
        except ValidationError as exc:
            problems.append(
                f"line {number}: {exc.errors()[0]['msg']} ({'.'.join(map(str, exc.errors()[0]['loc']))})"
            )
            continue
        if case.needs_review:  # kept for the count; not scored (kotae.evaluation.feedback_dataset)
            cases.append(case)
            continue
        if case.answerable and not case.expected_keys and case.expected_records is None:
            problems.append(f"line {number}: an answerable question needs expected_keys")
            continue
        cases.append(case)
    if problems:
        raise InputError(f"{path}: " + "; ".join(problems[:5]) + (" …" if len(problems) > 5 else ""))
    if not cases:
        raise InputError(f"{path}: no questions")
    return cases


def load_datasets(paths: Sequence[Path]) -> list[EvalCase]:
    """The questions of several sets, in order; an id may appear once across all of them."""
    cases, seen = [], {}
    for path in paths:
        for case in load_cases(path):
            if case.id in seen:
                raise InputError(f"question id {case.id!r} is in both {seen[case.id]} and {path}")
            seen[case.id] = path
            cases.append(case)
    return cases


@dataclass
class Grade:
    faithfulness: int
    correctness: int
    reason: str = ""


@dataclass
class CaseResult:
    id: str
    prompt_version: str
    answerable: bool
    found: bool
    retrieved: list[str]
    cited: list[str]
    cited_ids_in_text: list[str]
    valid_ids: list[str]
    expected: list[str]
    total_ms: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    route: str | None = None  # which model answered (kotae.answer.routing)
    cost_usd: float | None = None  # its estimated cost (kotae.ops.costs); None when unpriced
    error: str | None = None
    grade: Grade | None = None
    judge_error: str | None = None
    text: str = ""
    # Record questions only: what was expected, the answer's record result, why it is not exact.
    expected_records: dict[str, Any] | None = None
    records: dict[str, Any] | None = None
    record_problems: list[str] | None = None

    @property
    def record_question(self) -> bool:
        return self.expected_records is not None

    @property
    def hit_rank(self) -> int | None:
        """1-based rank of the first expected key among the retrieved items."""
        return next((rank for rank, key in enumerate(self.retrieved, 1) if key in self.expected), None)

    @property
    def citations_valid(self) -> bool:
        return set(self.cited_ids_in_text) <= set(self.valid_ids)

    @property
    def expected_cited(self) -> bool:
        return any(key in self.expected for key in self.cited)

    @property
    def correct(self) -> bool:
        if self.error:
            return False
        if self.record_question:
            return not self.record_problems
        if self.answerable:
            return self.found and self.expected_cited
        return not self.found


def retrieved_keys(answer: Answer) -> list[str]:
    """The items the answer was given, best first: retrieval hits, then the records a record
    query listed (an answer from the record path has no hits; its records are its retrieval)."""
    listed = answer.records.keys if answer.records is not None else []
    return list(dict.fromkeys([*(h.document.item_key for h in answer.hits), *listed]))


def score_case(case: EvalCase, answer: Answer) -> CaseResult:
    retrieved = retrieved_keys(answer)
    result = CaseResult(
        id=case.id,
        prompt_version=answer.prompt_version,
        answerable=case.answerable,
        found=answer.found,
        retrieved=retrieved,
        cited=list(dict.fromkeys(c.key for c in answer.citations)),
        cited_ids_in_text=list(dict.fromkeys(_CITED_ID.findall(answer.text))) if answer.found else [],
        valid_ids=[c.id for c in answer.citations],
        expected=case.expected_keys,
        total_ms=round(sum(answer.timings_ms.values()), 2),
        input_tokens=answer.usage.input_tokens,
        output_tokens=answer.usage.output_tokens,
        route=answer.route,
        cost_usd=answer.cost_usd,
        text=answer.text,
    )
    if case.expected_records is not None:
        result.expected_records = case.expected_records.model_dump(mode="json")
        result.records = answer.records.public() if answer.records is not None else None
        result.record_problems = check_records(case.expected_records, answer.records).problems
    return result


def failed_case(case: EvalCase, version: str, error: KotaeError) -> CaseResult:
    """A question the pipeline could not answer at all still counts (as wrong), with the reason."""
    reason = f"{type(error).__name__}: {error}"
    expected = case.expected_records.model_dump(mode="json") if case.expected_records is not None else None
    return CaseResult(
        id=case.id, prompt_version=version, answerable=case.answerable, found=False, retrieved=[],
        cited=[], cited_ids_in_text=[], valid_ids=[], expected=case.expected_keys, error=reason,
        expected_records=expected, record_problems=[f"the question failed: {reason}"] if expected else None,
    )  # fmt: skip


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least q% of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100)
    return ordered[int(rank) - 1]


def summarize(results: Sequence[CaseResult]) -> dict[str, Any]:
    """The figures for one prompt version. Rates are None when nothing could be counted.
    Questions, errors, latency and tokens count every question; the FAQ figures (answerable to
    correctness) only those without ``expected_records``; the ``record_*`` figures the others."""
    everything, results = results, [r for r in results if not r.record_question]
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    answered = [r for r in results if r.found]
    answered_answerable = [r for r in answerable if r.found]
    graded = [r.grade for r in results if r.grade is not None]
    latencies = [r.total_ms for r in everything if not r.error]
    checks = [RecordCheck(r.record_problems or []) for r in everything if r.record_question]
    return {
        "questions": len(everything),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "errors": sum(1 for r in everything if r.error),
        "retrieval_hit_rate": _ratio(sum(1 for r in answerable if r.hit_rank), len(answerable)),
        "retrieval_mrr": round(sum(1 / r.hit_rank for r in answerable if r.hit_rank) / len(answerable), 4)
        if answerable
        else None,
        "answer_rate": _ratio(len(answered_answerable), len(answerable)),
        "citation_validity": _ratio(sum(1 for r in answered if r.citations_valid), len(answered)),
        "expected_cited_rate": _ratio(sum(1 for r in answered_answerable if r.expected_cited), len(answered_answerable)),
        "correct_refusal_rate": _ratio(sum(1 for r in unanswerable if not r.found and not r.error), len(unanswerable)),
        "false_refusal_rate": _ratio(sum(1 for r in answerable if not r.found), len(answerable)),
        "accuracy": _ratio(sum(1 for r in results if r.correct), len(results)),
        "judged": len(graded),
        "judge_errors": sum(1 for r in results if r.judge_error),
        "faithfulness": round(statistics.fmean(g.faithfulness for g in graded), 3) if graded else None,
        "correctness": round(statistics.fmean(g.correctness for g in graded), 3) if graded else None,
        "latency_ms_p50": _percentile(latencies, 50),
        "latency_ms_p95": _percentile(latencies, 95),
        "input_tokens_mean": round(statistics.fmean(r.input_tokens for r in everything), 1) if everything else None,
        "output_tokens_mean": round(statistics.fmean(r.output_tokens for r in everything), 1) if everything else None,
        **record_figures(checks),
        **cost_figures(everything),
    }  # fmt: skip


@dataclass
class EvalRun:
    dataset: str
    versions: list[str]
    settings: dict[str, Any]
    results: dict[str, list[CaseResult]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "settings": self.settings,
            "versions": {v: summarize(self.results.get(v, [])) for v in self.versions},
        }

    def cases(self) -> list[dict[str, Any]]:
        return [
            {**asdict(r), "hit_rank": r.hit_rank, "correct": r.correct}
            for version in self.versions
            for r in self.results.get(version, [])
        ]


Ask = Callable[[EvalCase, str], Answer]
JudgeFn = Callable[[EvalCase, Answer], Grade]


def run_eval(
    cases: Iterable[EvalCase],
    versions: Sequence[str],
    ask: Ask,
    *,
    judge: JudgeFn | None = None,
    dataset: str = "",
    settings: dict[str, Any] | None = None,
    progress: Callable[[], None] = lambda: None,
) -> EvalRun:
    """Ask every question under every version. A KotaeError fails that question, not the run."""
    cases = list(cases)
    run = EvalRun(dataset, list(versions), settings or {})
    for version in versions:
        results = run.results.setdefault(version, [])
        for case in cases:
            try:
                answer = ask(case, version)
            except KotaeError as exc:
                results.append(failed_case(case, version, exc))
                progress()
                continue
            result = score_case(case, answer)
            if judge is not None and answer.found and case.expected_records is None:
                try:
                    result.grade = judge(case, answer)
                except KotaeError as exc:
                    result.judge_error = f"{type(exc).__name__}: {exc}"
            results.append(result)
            progress()
    return run


def parse_grade(text: str) -> Grade:
    """The judge's reply: one JSON object with integer grades 1–5 (surrounding prose tolerated)."""
    start, end = text.find("{"), text.rfind("}")
    try:
        raw = json.loads(text[start : end + 1]) if start >= 0 < end else None
    except json.JSONDecodeError:
        raw = None
    if not isinstance(raw, dict):
        raise JudgeReplyError(f"the judge did not reply with a JSON object: {text[:120]!r}")
    grades = {}
    for name in ("faithfulness", "correctness"):
        value = raw.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
            raise JudgeReplyError(f"the judge's {name} must be an integer from 1 to 5, got {value!r}")
        grades[name] = value
    return Grade(**grades, reason=str(raw.get("reason", ""))[:500])
