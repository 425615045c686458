"""What a budget allows: the limits, how they are written, and the fixed windows they count in.

A question limit is written ``COUNT/WINDOW``: ``20/1h`` is twenty questions an hour, ``5/10m``
five in ten minutes, ``200/1d`` two hundred a day (units s, m, h, d; the window is 1 minute to
7 days). A token limit is a whole number of tokens (input + output) per day. ``off`` means no
limit. Windows are fixed and aligned to the Unix epoch, so every process agrees on them without
talking to each other: ``20/1h`` counts from the top of each hour (UTC), a day from 00:00 UTC.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

Subject = Literal["user", "channel", "workspace"]
SUBJECTS: tuple[Subject, ...] = ("user", "channel", "workspace")
DAY = 86_400
MIN_WINDOW, MAX_WINDOW = 60, 7 * DAY
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": DAY}
_LIMIT = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*$", re.IGNORECASE)
OFF = "off"


class QuestionLimit(BaseModel):
    """At most ``count`` questions per fixed window of ``window_seconds``."""

    model_config = ConfigDict(frozen=True)

    count: int = Field(ge=1, le=1_000_000)
    window_seconds: int = Field(ge=MIN_WINDOW, le=MAX_WINDOW)

    def __str__(self) -> str:
        return f"{self.count}/{self.window_seconds}s"


def parse_question_limit(value: Any) -> Any:
    """``"20/1h"`` as a QuestionLimit; other shapes (a mapping, a model, "off", None) are
    passed on for pydantic to judge. An unparsable string is a ValueError that says how to
    write one, which pydantic puts into its one message with every other problem."""
    if not isinstance(value, str) or value.strip().lower() in ("", OFF):
        return value
    match = _LIMIT.match(value)
    if match is None:
        raise ValueError(
            f"{value!r} is not a question limit: write COUNT/WINDOW such as 20/1h, 5/10m or 200/1d"
        )
    count, amount, unit = match.groups()
    seconds = int(amount or 1) * _UNITS[unit.lower()]
    if int(count) < 1:
        raise ValueError(f"{value!r} allows no question at all: the count must be at least 1")
    if not MIN_WINDOW <= seconds <= MAX_WINDOW:
        raise ValueError(f"{value!r} has a window outside 1m to 7d")
    return {"count": int(count), "window_seconds": seconds}


def _off_to_none(value: Any) -> Any:
    """In a setting, unset, empty and "off" all mean no limit."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", OFF)):
        return None
    return value


def _off_literal(value: Any) -> Any:
    return OFF if isinstance(value, str) and value.strip().lower() == OFF else value


# Before-validators run right to left: "off" is recognized first, then the COUNT/WINDOW form.
Tokens = Annotated[int, Field(ge=1)]
SettingQuestions = Annotated[
    QuestionLimit | None, BeforeValidator(parse_question_limit), BeforeValidator(_off_to_none)
]
SettingTokens = Annotated[Tokens | None, BeforeValidator(_off_to_none)]
OverrideQuestions = Annotated[
    QuestionLimit | Literal["off"] | None,
    BeforeValidator(parse_question_limit),
    BeforeValidator(_off_literal),
]
OverrideTokens = Annotated[Tokens | Literal["off"] | None, BeforeValidator(_off_literal)]


class SubjectLimits(BaseModel):
    """One subject's limits; None is no limit."""

    model_config = ConfigDict(frozen=True)

    questions: QuestionLimit | None = None
    tokens_per_day: int | None = None

    @property
    def any(self) -> bool:
        return self.questions is not None or self.tokens_per_day is not None


class BudgetPolicy(BaseModel):
    """The limits for each subject and the people they do not apply to."""

    model_config = ConfigDict(frozen=True)

    user: SubjectLimits = SubjectLimits()
    channel: SubjectLimits = SubjectLimits()
    workspace: SubjectLimits = SubjectLimits()
    admins: frozenset[str] = frozenset()

    def of(self, subject: Subject) -> SubjectLimits:
        return getattr(self, subject)  # type: ignore[no-any-return]


class BudgetOverride(BaseModel):
    """A channel profile's ``budget`` entry: the user and channel limits in that channel.
    A field left out keeps the setting; ``"off"`` lifts that limit in this channel. The
    workspace limit is the workspace's alone, so a channel cannot change it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user: OverrideQuestions = None
    channel: OverrideQuestions = None
    user_tokens: OverrideTokens = None
    channel_tokens: OverrideTokens = None

    def apply(self, policy: BudgetPolicy) -> BudgetPolicy:
        """The policy with this channel's limits in place of the settings'."""
        return policy.model_copy(
            update={
                "user": _merged(policy.user, self.user, self.user_tokens),
                "channel": _merged(policy.channel, self.channel, self.channel_tokens),
            }
        )


def _merged(base: SubjectLimits, questions: Any, tokens: Any) -> SubjectLimits:
    update: dict[str, Any] = {}
    if questions is not None:
        update["questions"] = None if questions == OFF else questions
    if tokens is not None:
        update["tokens_per_day"] = None if tokens == OFF else tokens
    return base.model_copy(update=update)


def window(now: float, seconds: int) -> tuple[int, int]:
    """The fixed window holding ``now``: (start, end) in epoch seconds, end exclusive."""
    start = int(now // seconds) * seconds
    return start, start + seconds
