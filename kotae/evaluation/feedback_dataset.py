"""An evaluation set from what users struggled with: 👎 answers and not-found questions.

``kotae eval dataset --from-feedback`` turns the answer log (kotae.ops.log_reader) into lines
of the ``kotae eval answers`` format (kotae.evaluation.answers), so every new prompt version is
measured on real questions. Selection:

- an answer is 👎 when some user's latest click on it is 👎 (a later 👍 by the same user
  withdraws it); an answer whose outcome is ``not_found`` is selected without a click;
- blocked answers (a guardrail stopped them) and questions the log dropped
  (``KOTAE_LOG_TEXT=drop``) are left out and counted; masked questions are kept, marked;
- near-identical questions (NFKC, case-folded, whitespace and trailing punctuation removed)
  asked with the same scopes become one case listing every answer id.

Expected keys come from an item saved for the question when there is one: an item whose
``saved_for_answer_id`` attribute is one of the case's answer ids, else one whose ``question``
or ``title`` attribute is the same question (normalized as above). Otherwise the line has
``expected_keys: []`` and ``needs_review: true``; ``kotae eval answers`` skips such lines (and
says how many) until a person fills ``expected_keys`` (or sets ``answerable: false``) and
removes ``needs_review``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from kotae.errors import ConfigError, InputError
from kotae.evaluation.answers import EvalCase
from kotae.models import DEFAULT_SCOPE, Item
from kotae.ops.redaction import DROPPED
from kotae.text.language import detect_language

ScopesFor = Callable[[str | None], list[str] | None]
_MASKED = re.compile(r"\[(?:email|phone|number)\]")
_TRAILING = re.compile(r"[\s?!.。、,]+$")


class FeedbackCase(BaseModel):
    """One dataset line: the ``kotae eval answers`` fields, then where the case came from."""

    id: str
    lang: str
    question: str
    expected_keys: list[str] = Field(default_factory=list)
    answerable: bool = True
    scopes: list[str] | None = None
    needs_review: bool = False
    source: Literal["thumbs_down", "not_found"]
    answer_id: str
    answer_ids: list[str]
    reason: str | None = None  # the 👎's reason, when the feedback record has one
    comment: str | None = None
    channel_ids: list[str] = Field(default_factory=list)
    asked_at: str
    prompt_version: str | None = None
    saved_item: str | None = None  # the item the expected key came from, and how it matched
    masked: bool = False  # the log masked personal data in the question


@dataclass
class DatasetReport:
    """What the command read and why lines were left out, for the summary line."""

    answers: int = 0
    feedback: int = 0
    selected: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)

    def as_dict(self, cases: Sequence[FeedbackCase]) -> dict[str, Any]:
        return {
            "read": {"answers": self.answers, "feedback": self.feedback},
            "selected": sum(self.selected.values()),
            "by_source": dict(self.selected),
            "cases": len(cases),
            "from_saved_items": sum(1 for c in cases if c.saved_item),
            "needs_review": sum(1 for c in cases if c.needs_review),
            "skipped": dict(self.skipped),
        }


def normalize(question: str) -> str:
    """The form two near-identical questions share: NFKC, case-folded, without whitespace (Japanese
    writers space Latin words or not) and trailing punctuation."""
    return _TRAILING.sub("", "".join(unicodedata.normalize("NFKC", question).casefold().split()))


def thumbs_down(feedback: Sequence[dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], int]:
    """Per answer id, its latest standing 👎 (each user's latest click wins); and how many
    answers had a 👎 that the same user's later 👍 withdrew."""
    latest: dict[tuple[str, Any], dict[str, Any]] = {}
    for record in sorted(feedback, key=lambda r: datetime.fromisoformat(r["time"])):
        latest[(record["answer_id"], record.get("user_id"))] = record
    down = {answer_id: r for (answer_id, _), r in latest.items() if r.get("feedback") == "down"}
    ever_down = {r["answer_id"] for r in feedback if r.get("feedback") == "down"}
    return down, len(ever_down - set(down))


@dataclass
class SavedItems:
    """Items saved for a question, by the answer id they were saved for and by question."""

    by_answer: dict[str, str] = field(default_factory=dict)
    by_question: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, items: Iterable[Item]) -> SavedItems:
        saved = cls()
        for item in items:
            answer_id = item.attributes.get("saved_for_answer_id")
            if isinstance(answer_id, str) and answer_id:
                saved.by_answer.setdefault(answer_id, item.key)
            for name in ("question", "title"):
                text = item.attributes.get(name)
                if isinstance(text, str) and text.strip():
                    saved.by_question.setdefault(normalize(text), item.key)
        return saved

    def match(self, answer_ids: Sequence[str], question: str) -> tuple[str, str] | None:
        """(item key, how it matched) for the item saved for this case, if any."""
        for answer_id in answer_ids:
            if answer_id in self.by_answer:
                return self.by_answer[answer_id], f"saved_for_answer_id {answer_id}"
        key = self.by_question.get(normalize(question))
        return (key, "same question") if key else None


def _candidates(
    answers: Iterable[dict[str, Any]], down: dict[str, dict[str, Any]], report: DatasetReport
) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """The answers to turn into cases, oldest first, each with its standing 👎 (or None)."""
    chosen = []
    for record in sorted(answers, key=lambda r: datetime.fromisoformat(r["time"])):
        vote = down.get(record["answer_id"])
        if vote is None and record.get("outcome") != "not_found":
            continue
        report.selected["thumbs_down" if vote else "not_found"] += 1
        question = record.get("question")
        if record.get("outcome") == "blocked":
            report.skipped["blocked"] += 1
        elif not isinstance(question, str) or not question.strip() or question == DROPPED:
            report.skipped["question_not_logged"] += 1
        else:
            chosen.append((record, vote))
    return chosen


def _text(value: Any) -> str | None:
    """A log field as text, or None: a record from another writer must not stop the command."""
    return value if isinstance(value, str) and value else None


def _case(record: dict[str, Any], vote: dict[str, Any] | None, scopes: list[str] | None) -> FeedbackCase:
    question = record["question"].strip()
    channel = _text(record.get("channel_id"))
    return FeedbackCase(
        id=f"fb-{record['answer_id']}",
        lang=detect_language(question),
        question=question,
        scopes=scopes,
        needs_review=True,
        source="thumbs_down" if vote else "not_found",
        answer_id=record["answer_id"],
        answer_ids=[record["answer_id"]],
        reason=_text((vote or {}).get("reason")),
        comment=_text((vote or {}).get("comment")),
        channel_ids=[channel] if channel else [],
        asked_at=record["time"],
        prompt_version=_text(record.get("prompt_version")),
        masked=bool(_MASKED.search(question)),
    )


def _merge(case: FeedbackCase, record: dict[str, Any]) -> None:
    case.answer_ids.append(record["answer_id"])
    channel = _text(record.get("channel_id"))
    if channel and channel not in case.channel_ids:
        case.channel_ids.append(channel)


def build_dataset(
    answers: Iterable[dict[str, Any]],
    feedback: Iterable[dict[str, Any]],
    *,
    scopes_for: ScopesFor = lambda channel: None,
    saved: SavedItems | None = None,
    report: DatasetReport | None = None,
) -> list[FeedbackCase]:
    """The dataset lines for these log records (see the module docstring for the rules)."""
    answers, feedback = list(answers), list(feedback)
    report = report if report is not None else DatasetReport()
    report.answers, report.feedback = len(answers), len(feedback)
    down, withdrawn = thumbs_down(feedback)
    if withdrawn:
        report.skipped["thumbs_down_withdrawn"] += withdrawn
    cases: dict[tuple[str, tuple[str, ...] | None], FeedbackCase] = {}
    for record, vote in _candidates(answers, down, report):
        scopes = scopes_for(record.get("channel_id"))
        key = (normalize(record["question"]), tuple(scopes) if scopes is not None else None)
        if key in cases:
            report.skipped["duplicate"] += 1
            _merge(cases[key], record)
        else:
            cases[key] = _case(record, vote, scopes)
    for case in cases.values():
        found = (saved or SavedItems()).match(case.answer_ids, case.question)
        if found:
            case.expected_keys, case.needs_review = [found[0]], False
            case.saved_item = f"{found[0]} ({found[1]})"
    return list(cases.values())


def write_dataset(path: Path, cases: Sequence[FeedbackCase]) -> None:
    lines = [json.dumps(c.model_dump(mode="json", exclude_none=True), ensure_ascii=False) for c in cases]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from exc


def ready_cases(cases: Sequence[EvalCase]) -> tuple[list[EvalCase], int]:
    """The cases to score and how many still await a person (``needs_review``): scoring those
    would count a question nobody has given an answer to as a failure."""
    ready = [c for c in cases if not c.needs_review]
    if cases and not ready:
        raise InputError(
            f"all {len(cases)} questions await review: fill expected_keys (or set answerable "
            "to false) and remove needs_review on the lines to score"
        )
    return ready, len(cases) - len(ready)


class _Profile(BaseModel):
    scopes: list[str] = Field(default_factory=lambda: [DEFAULT_SCOPE])


class _Profiles(BaseModel):
    """The scopes part of the bot's channel profile document (bot/profiles.py; the core does
    not import the bot): a channel without an entry gets ``default``."""

    default: _Profile = Field(default_factory=_Profile)
    channels: dict[str, _Profile] = Field(default_factory=dict)


def profile_scopes(document: str, where: str) -> ScopesFor:
    """Channel id → the scopes its askers could see, from a channel profile JSON document."""
    try:
        profiles = _Profiles.model_validate_json(document)
    except ValidationError as exc:
        raise ConfigError(
            f"{where} is not a valid channel profile document: {exc.errors()[0]['msg']}"
        ) from exc
    return lambda channel: list(profiles.channels.get(channel or "", profiles.default).scopes)
