"""Time phrases in a question, read as a range of record timestamps: since (inclusive), until
(exclusive), both in UTC.

Calendar words (today, yesterday, this/last week or month, a date) are days in the asker's zone,
which the parser takes to be Japan time (UTC+9) for a question written in Japanese and UTC for
any other: kotae cannot know a Slack user's zone, and a question's language is the best guess it
has. "Last N days/hours/weeks" (直近N日, 過去N時間, …) count back from ``now`` exactly. Weeks
start on Monday. A month and day without a year is the latest such date not after today. Several
phrases narrow each other (the latest start, the earliest end); an end not after the start is
dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo

JST = timezone(timedelta(hours=9), "JST")

_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_SINCE_BEFORE = re.compile(r"(?:since|from|after|starting)\s+(?:the\s+)?$")
_UNTIL_BEFORE = re.compile(r"(?:until|till|through|up\s+to|to|before)\s+(?:the\s+)?$")
_SINCE_AFTER = re.compile(r"^\s*(?:以降|から|以来|より後|~|〜)")
_UNTIL_AFTER = re.compile(r"^\s*(?:まで|以前|より前)")
_UNIT = {"日": 1, "日間": 1, "day": 1, "days": 1, "週間": 7, "week": 7, "weeks": 7}


@dataclass
class TimeRange:
    """What the time phrases of a question say, and where they are (character spans)."""

    since: datetime | None = None
    until: datetime | None = None
    spans: list[tuple[int, int]] = field(default_factory=list)


@dataclass(frozen=True)
class _Clock:
    now: datetime
    zone: tzinfo

    @property
    def today(self) -> date:
        return self.now.astimezone(self.zone).date()

    def midnight(self, day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=self.zone)


Interval = tuple[datetime | None, datetime | None]


def _relative_days(clock: _Clock, match: re.Match[str]) -> Interval:
    word, today = match.group(0), clock.today
    start = {"yesterday": 1, "昨日": 1, "きのう": 1, "一昨日": 2, "おととい": 2}.get(word, 0)
    if start == 0:
        return clock.midnight(today), None
    return clock.midnight(today - timedelta(days=start)), clock.midnight(today - timedelta(days=start - 1))


def _weeks(clock: _Clock, match: re.Match[str]) -> Interval:
    monday = clock.today - timedelta(days=clock.today.weekday())
    if match.group(0) in ("this week", "今週"):
        return clock.midnight(monday), None
    return clock.midnight(monday - timedelta(days=7)), clock.midnight(monday)


def _months(clock: _Clock, match: re.Match[str]) -> Interval:
    first = clock.today.replace(day=1)
    if match.group(0) in ("this month", "今月"):
        return clock.midnight(first), None
    previous = (first - timedelta(days=1)).replace(day=1)
    return clock.midnight(previous), clock.midnight(first)


def _back(clock: _Clock, match: re.Match[str]) -> Interval:
    count, unit = int(match.group("n") or 1), match.group("unit")
    if unit in ("時間", "hour", "hours"):
        return clock.now - timedelta(hours=count), None
    return clock.now - timedelta(days=count * _UNIT[unit]), None


def _ymd(clock: _Clock, match: re.Match[str]) -> Interval:
    return _day(clock, int(match.group("y")), int(match.group("m")), int(match.group("d")))


def _md(clock: _Clock, match: re.Match[str]) -> Interval:
    month = match.group("m")
    number = int(month) if month.isdigit() else _MONTHS.index(month[:3]) + 1
    year = clock.today.year
    if (number, int(match.group("d"))) > (clock.today.month, clock.today.day):
        year -= 1
    return _day(clock, year, number, int(match.group("d")))


def _day_of_month(clock: _Clock, match: re.Match[str]) -> Interval:
    today, day = clock.today, int(match.group("d"))
    month = today.replace(day=1) if day <= today.day else (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    return _day(clock, month.year, month.month, day)


def _day(clock: _Clock, year: int, month: int, day: int) -> Interval:
    moment = clock.midnight(date(year, month, day))  # ValueError for 2/30: not a date, not a phrase
    return moment, moment + timedelta(days=1)


_Reader = Callable[[_Clock, re.Match[str]], Interval]
_PATTERNS: tuple[tuple[re.Pattern[str], _Reader, bool], ...] = (
    # (pattern, reader, whether it is a calendar date that since/until words may qualify)
    (re.compile(r"(?:(?:in\s+)?the\s+)?(?:past\s+|last\s+(?=\d))(?:(?P<n>\d{1,3})\s*)?(?P<unit>days?|hours?|weeks?)(?![a-z])"), _back, False),
    (re.compile(r"(?:直近|過去|ここ|最近)\s*(?P<n>\d{1,3})\s*(?P<unit>日間?|時間|週間)"), _back, False),
    (re.compile(r"(?<![a-z])(?:today|yesterday)(?![a-z])|一昨日|おととい|今日|本日|きょう|昨日|きのう"), _relative_days, False),
    (re.compile(r"(?<![a-z])(?:this|last)\s+week(?![a-z])|今週|先週"), _weeks, False),
    (re.compile(r"(?<![a-z])(?:this|last)\s+month(?![a-z])|今月|先月"), _months, False),
    (re.compile(r"(?<![a-z0-9_\-])(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})(?:\s*日)?(?![0-9a-z_\-])"), _ymd, True),
    (re.compile(r"(?<![0-9/.])(?P<m>\d{1,2})\s*(?:月|/)\s*(?P<d>\d{1,2})(?![0-9/])(?:\s*日)?"), _md, True),
    (re.compile(r"(?<![a-z])(?P<m>(?:" + "|".join(_MONTHS) + r")[a-z]*)\.?\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?(?![0-9a-z])"), _md, True),
    (re.compile(r"(?<![0-9月])(?P<d>\d{1,2})\s*日(?=\s*(?:以降|から|以来))"), _day_of_month, True),
)


def read_time(text: str, now: datetime, zone: tzinfo) -> TimeRange:
    """The time range ``text`` (lower case, NFKC) names relative to ``now``, in UTC."""
    clock = _Clock(now if now.tzinfo else now.replace(tzinfo=UTC), zone)
    found = TimeRange()
    taken = list(text)
    dates: list[tuple[int, int, Interval]] = []
    for pattern, reader, is_date in _PATTERNS:
        for match in pattern.finditer("".join(taken)):
            try:
                interval = reader(clock, match)
            except ValueError:  # 2/30 or month 13: not a date, so not a time phrase
                continue
            start, end = match.span()
            taken[start:end] = " " * (end - start)
            if is_date:
                dates.append((start, end, interval))
            else:
                _narrow(found, interval, (start, end))
    for start, end, interval in _qualified(text, sorted(dates, key=lambda d: d[0])):
        _narrow(found, interval, (start, end))
    found.since = found.since.astimezone(UTC) if found.since else None
    found.until = found.until.astimezone(UTC) if found.until else None
    return found


def _qualified(text: str, dates: list[tuple[int, int, Interval]]) -> list[tuple[int, int, Interval]]:
    """Each date as the range its since/until words make of it, the words in its span. A plain
    date after a "since" date ends the range (X〜Y), and so does the second of two plain dates
    (between X and Y)."""
    out = [_qualify(text, start, end, interval) for start, end, interval in dates]
    plain = [i for i, (_, _, (since, until)) in enumerate(out) if since is not None and until is not None]
    if len(out) == 2 and ((plain == [1] and out[0][2][1] is None) or plain == [0, 1]):
        (s0, e0, (since, _)), (s1, e1, (_, until)) = out
        return [(s0, e0, (since, None)), (s1, e1, (None, until))]
    return out


def _qualify(text: str, start: int, end: int, interval: Interval) -> tuple[int, int, Interval]:
    day, next_day = interval
    before, after = text[max(0, start - 20):start], text[end:end + 6]
    if m := _SINCE_BEFORE.search(before):
        return start - len(m.group(0)), end, (next_day if m.group(0).startswith("after") else day, None)
    if m := _UNTIL_BEFORE.search(before):
        return start - len(m.group(0)), end, (None, day if m.group(0).startswith("before") else next_day)
    if m := _SINCE_AFTER.match(after):
        return start, end + len(m.group(0)), (next_day if "より後" in m.group(0) else day, None)
    if m := _UNTIL_AFTER.match(after):
        return start, end + len(m.group(0)), (None, day if "より前" in m.group(0) else next_day)
    return start, end, interval


def _narrow(found: TimeRange, interval: Interval, span: tuple[int, int]) -> None:
    since, until = interval
    if since is not None and (found.since is None or since > found.since):
        found.since = since
    if until is not None and (found.until is None or until < found.until):
        found.until = until
    if found.since and found.until and found.until <= found.since:
        found.until = None
    found.spans.append(span)
