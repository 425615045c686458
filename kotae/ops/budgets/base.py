"""The budget rule: which counters a question takes, and what the person is told when it cannot.

A question is admitted only if every limit that applies to it has room, all at once: the asker's,
the channel's and the workspace's question counters each take one, and the token totals of the
day must be below their limits. The counters implement that as one atomic step (a DynamoDB
transaction, a SQLite ``BEGIN IMMEDIATE`` transaction), so twenty questions racing for the last
five places give exactly five answers, and a question refused by one limit uses none of the
others. Tokens are added after the answer, with what it really used, without a condition: the
answer has been given; the next question is the one that is refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from kotae.errors import StoreError
from kotae.ops.budgets.limits import DAY, SUBJECTS, BudgetOverride, BudgetPolicy, Subject, window

KEY_PREFIX = "budget"
EXPIRY_GRACE = 3600  # counters outlive their window by this much, then TTL (or the purge) removes them
Kind = Literal["questions", "tokens"]


class BudgetUnavailable(StoreError):
    """The budget counters cannot be read or written. Questions are then refused (fail closed):
    a limit that lapses whenever its table does is no ceiling on the bill."""

    user_message = "The question budget cannot be checked right now. Please try again in a minute."


@dataclass(frozen=True)
class Asker:
    """Who asks, and where: Slack's team, channel and user ids (None or "" when unknown)."""

    team_id: str | None
    channel_id: str
    user_id: str | None

    def subject_id(self, subject: Subject) -> str | None:
        team = self.team_id or "-"
        if subject == "workspace":
            return team
        own = self.user_id if subject == "user" else self.channel_id
        return f"{team}:{own}" if own else None


@dataclass(frozen=True)
class Claim:
    """One counter a question needs room in: below ``limit`` now, and ``add`` more if admitted
    (1 for a question counter, 0 for a token total, which is only checked)."""

    key: str
    limit: int
    add: int
    subject: Subject
    kind: Kind
    resets_at: int  # when the counter's window ends, epoch seconds

    @property
    def expires(self) -> int:
        return self.resets_at + EXPIRY_GRACE


class Counters(Protocol):
    """Where the counts live (SQLite on one machine, DynamoDB in AWS)."""

    def take(self, claims: Sequence[Claim]) -> list[Claim]:
        """Atomically: when every counter is below its limit, add each claim's ``add`` and
        return []; otherwise change nothing and return the claims that are at their limit.
        Raises BudgetUnavailable when the counters cannot be reached."""
        ...

    def add(self, key: str, amount: int, expires: int) -> None:
        """Add to a counter unconditionally. Raises BudgetUnavailable."""
        ...


@dataclass(frozen=True)
class Refusal:
    """Why a question was not admitted and when the person may ask again."""

    subject: Subject
    kind: Kind
    retry_at: int

    def wait_seconds(self, now: float) -> int:
        return max(1, int(self.retry_at - now))


def key(kind: Kind, subject: Subject, subject_id: str, window_start: int) -> str:
    return f"{KEY_PREFIX}#{kind}#{subject}#{subject_id}#{window_start}"


class Budgets:
    """The workspace's budget policy over its counters."""

    def __init__(
        self, policy: BudgetPolicy, counters: Counters, clock: Callable[[], float] = time.time
    ) -> None:
        self.policy, self.counters, self.clock = policy, counters, clock

    def effective(self, override: BudgetOverride | None) -> BudgetPolicy:
        return override.apply(self.policy) if override is not None else self.policy

    def claims(self, asker: Asker, policy: BudgetPolicy, now: float) -> list[Claim]:
        """The counters this question needs room in under the policy."""
        found = []
        for subject in SUBJECTS:
            limits, subject_id = policy.of(subject), asker.subject_id(subject)
            if subject_id is None:
                continue
            if limits.questions is not None:
                start, end = window(now, limits.questions.window_seconds)
                found.append(
                    Claim(
                        key("questions", subject, subject_id, start),
                        limits.questions.count,
                        1,
                        subject,
                        "questions",
                        end,
                    )
                )
            if limits.tokens_per_day is not None:
                start, end = window(now, DAY)
                found.append(
                    Claim(
                        key("tokens", subject, subject_id, start),
                        limits.tokens_per_day,
                        0,
                        subject,
                        "tokens",
                        end,
                    )
                )
        return found

    def admit(self, asker: Asker, override: BudgetOverride | None = None) -> Refusal | None:
        """Take this question's place in every counter, or say why not and until when (the
        latest window end among the limits that are full). Admins are neither counted nor
        limited. Raises BudgetUnavailable."""
        if asker.user_id in self.policy.admins:
            return None
        claims = self.claims(asker, self.effective(override), self.clock())
        if not claims:
            return None
        full = self.counters.take(claims)
        if not full:
            return None
        last = max(full, key=lambda claim: claim.resets_at)
        return Refusal(last.subject, last.kind, last.resets_at)

    def spend(self, asker: Asker, tokens: int, override: BudgetOverride | None = None) -> None:
        """Add an answer's tokens to the day's totals that have a limit. Raises BudgetUnavailable."""
        if tokens <= 0 or asker.user_id in self.policy.admins:
            return
        for claim in self.claims(asker, self.effective(override), self.clock()):
            if claim.kind == "tokens":
                self.counters.add(claim.key, tokens, claim.expires)
