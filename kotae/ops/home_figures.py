"""The knowledge owners' figures (the bot's App Home) from the answer and feedback logs. Pure.

For each window (the last 7 and 30 days before ``now``, by the records' exact times): how many
questions were asked, answered, found nothing and were blocked, the share refused ("not found"
among all answers), and 👍/👎 per prompt version. Over the longest window: the most frequent
not-found questions, clustered, and the latest standing 👎 with its reason and comment.

The rules are those of the Athena queries in kotae/ops/athena: only a person's last click on an
answer counts (a later 👍 withdraws their 👎), and a click counts for the prompt version of an
answer given in the same window. A record without ``outcome`` (older logs) counts by ``found``.

Not-found questions are clustered with the tokenizer kotae searches with
(kotae.text.tokenizers.tokenize, the analyzer of the SQLite lexical search), so "VPNの設定方法は？"
and "VPN 設定 方法" share their content tokens. Greedy and deterministic: questions are taken
oldest first; each joins the first cluster whose seed (its first question) shares at least half
of their distinct tokens together (Jaccard ≥ 0.5), else it seeds a new one. A question without
content tokens ("how do I?") only joins questions of the same normalized text. Questions the log
dropped (KOTAE_LOG_TEXT=drop) are left out.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from kotae.ops.redaction import DROPPED
from kotae.text.tokenizers import tokenize

WINDOWS = (7, 30)
SAME_QUESTION = 0.5  # the Jaccard similarity of content tokens from which two questions group
TOP_CLUSTERS = 10
LATEST_DOWN = 10


@dataclass(frozen=True)
class VersionFeedback:
    """👍/👎 (last clicks) on the answers of one prompt version."""

    prompt_task: str
    prompt_version: str
    answers: int
    up: int = 0
    down: int = 0

    @property
    def up_ratio(self) -> float | None:
        rated = self.up + self.down
        return self.up / rated if rated else None


@dataclass(frozen=True)
class WindowFigures:
    days: int
    asked: int
    answered: int
    not_found: int
    blocked: int
    versions: tuple[VersionFeedback, ...] = ()

    @property
    def refused_share(self) -> float | None:
        return self.not_found / self.asked if self.asked else None

    @property
    def up(self) -> int:
        return sum(v.up for v in self.versions)

    @property
    def down(self) -> int:
        return sum(v.down for v in self.versions)

    @property
    def up_ratio(self) -> float | None:
        rated = self.up + self.down
        return self.up / rated if rated else None


@dataclass(frozen=True)
class NotFoundCluster:
    """Not-found questions that ask the same thing; ``example`` is the latest of them."""

    count: int
    people: int
    example: str
    answer_id: str
    last_asked: str


@dataclass(frozen=True)
class DownVote:
    """A standing 👎, with the question of the answer it is about (None: not in the log)."""

    answer_id: str
    time: str
    question: str | None
    reason: str | None
    comment: str | None
    prompt_version: str | None


@dataclass(frozen=True)
class HomeFigures:
    now: datetime
    windows: tuple[WindowFigures, ...]
    clusters: tuple[NotFoundCluster, ...]
    latest_down: tuple[DownVote, ...]
    # What could not be read ("answers", "feedback") and how many records were left out.
    missing: frozenset[str] = field(default_factory=frozenset)
    unreadable: int = 0


def stamp(record: dict[str, Any]) -> datetime | None:
    """The record's time as an aware datetime, or None when it has none that parses."""
    try:
        when = datetime.fromisoformat(str(record["time"]))
    except (KeyError, TypeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def outcome(record: dict[str, Any]) -> str:
    value = record.get("outcome")
    if value in ("answered", "not_found", "blocked"):
        return str(value)
    return "answered" if record.get("found") is True else "not_found"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _within(records: Iterable[dict[str, Any]], since: datetime, now: datetime) -> list[dict[str, Any]]:
    kept = []
    for record in records:
        when = stamp(record)
        if when is not None and since <= when <= now and isinstance(record.get("answer_id"), str):
            kept.append(record)
    return sorted(kept, key=_time_order)


def last_clicks(feedback: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each person's last click on each answer, oldest first (the input in time order)."""
    latest: dict[tuple[str, Any], dict[str, Any]] = {}
    for record in feedback:
        if record.get("feedback") in ("up", "down"):
            latest.pop((record["answer_id"], record.get("user_id")), None)
            latest[(record["answer_id"], record.get("user_id"))] = record
    return list(latest.values())


def version_feedback(
    answers: Sequence[dict[str, Any]], clicks: Iterable[dict[str, Any]]
) -> list[VersionFeedback]:
    """👍/👎 per (prompt task, prompt version) of the answers, sorted by task and version."""
    version_of = {
        a["answer_id"]: (_text(a.get("prompt_task")) or "?", _text(a.get("prompt_version")) or "?")
        for a in answers
    }
    counts: dict[tuple[str, str], list[int]] = {}
    for version in version_of.values():
        counts.setdefault(version, [0, 0, 0])[0] += 1
    for click in clicks:
        version = version_of.get(click["answer_id"])
        if version is not None:
            counts[version][1 if click["feedback"] == "up" else 2] += 1
    return [VersionFeedback(task, ver, *counts[(task, ver)]) for task, ver in sorted(counts)]


def window_figures(
    days: int, answers: Sequence[dict[str, Any]], feedback: Sequence[dict[str, Any]], now: datetime
) -> WindowFigures:
    since = now - timedelta(days=days)
    asked = _within(answers, since, now)
    outcomes = [outcome(a) for a in asked]
    clicks = last_clicks(_within(feedback, since, now))
    return WindowFigures(
        days=days,
        asked=len(asked),
        answered=outcomes.count("answered"),
        not_found=outcomes.count("not_found"),
        blocked=outcomes.count("blocked"),
        versions=tuple(version_feedback(asked, clicks)),
    )


def _normalized(question: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", question).casefold().split()).rstrip("?？!！.。 ")


def similar(a: frozenset[str], b: frozenset[str]) -> bool:
    """Whether two token sets ask the same thing (Jaccard ≥ SAME_QUESTION); empty sets never do."""
    if not a or not b:
        return False
    return len(a & b) / len(a | b) >= SAME_QUESTION


def cluster_questions(records: Sequence[dict[str, Any]]) -> list[NotFoundCluster]:
    """The records' questions clustered (module docstring), most asked first, then latest."""
    groups: list[tuple[frozenset[str], str, list[dict[str, Any]]]] = []
    for record in sorted(records, key=_time_order):
        question = _text(record.get("question"))
        if question is None or question == DROPPED:
            continue
        tokens, plain = frozenset(tokenize(question)), _normalized(question)
        for seed, seed_plain, members in groups:
            if similar(tokens, seed) or (not tokens and not seed and plain == seed_plain):
                members.append(record)
                break
        else:
            groups.append((tokens, plain, [record]))
    clusters = [
        NotFoundCluster(
            count=len(members),
            people=len({m.get("user_id") for m in members}),
            example=members[-1]["question"].strip(),
            answer_id=members[-1]["answer_id"],
            last_asked=str(members[-1]["time"]),
        )
        for _, _, members in groups
    ]
    return sorted(clusters, key=lambda c: (-c.count, -_time_order({"time": c.last_asked})[0]))


def _time_order(record: dict[str, Any]) -> tuple[float, str]:
    when = stamp(record)
    return (when.timestamp() if when else 0.0), str(record.get("answer_id"))


def latest_down(answers: Sequence[dict[str, Any]], clicks: Iterable[dict[str, Any]]) -> list[DownVote]:
    """Standing 👎 clicks, latest first, with their answer's question and prompt version."""
    by_id = {a["answer_id"]: a for a in answers}
    votes = []
    for click in sorted(clicks, key=_time_order, reverse=True):
        if click["feedback"] != "down":
            continue
        answer = by_id.get(click["answer_id"], {})
        question = _text(answer.get("question"))
        votes.append(
            DownVote(
                answer_id=click["answer_id"],
                time=str(click["time"]),
                question=None if question == DROPPED else question,
                reason=_text(click.get("reason")),
                comment=_text(click.get("comment")),
                prompt_version=_text(answer.get("prompt_version")),
            )
        )
    return votes


def home_figures(
    answers: Iterable[dict[str, Any]],
    feedback: Iterable[dict[str, Any]],
    now: datetime,
    *,
    missing: Iterable[str] = (),
    unreadable: int = 0,
) -> HomeFigures:
    """Every figure of the Home tab from the records of the last max(WINDOWS) days."""
    answers, feedback = list(answers), list(feedback)
    since = now - timedelta(days=max(WINDOWS))
    longest = _within(answers, since, now)
    clicks = last_clicks(_within(feedback, since, now))
    not_found = [a for a in longest if outcome(a) == "not_found"]
    return HomeFigures(
        now=now,
        windows=tuple(window_figures(days, answers, feedback, now) for days in WINDOWS),
        clusters=tuple(cluster_questions(not_found)[:TOP_CLUSTERS]),
        latest_down=tuple(latest_down(longest, clicks)[:LATEST_DOWN]),
        missing=frozenset(missing),
        unreadable=unreadable,
    )
