"""Questions recognised as record queries without a model: the offline path and the fast path.

A question becomes a :class:`RecordQuery` from what it names and what it asks:

- **facet values** the store has: ID-like tokens (``ex-20261118-01``, ``r-0001``, ``v3``,
  ``normalize_company_name``), plain words and runs of 2-4 words (a task called "Extract invoice
  total"), full-width forms folded by NFKC, all looked up with one ``facet_matches`` call;
- **value words** from ``spec.values`` (status: failed / 失敗 / エラー / コケた, …), one typo allowed;
- **intents**: count (how many / 何件), list (which / 一覧 / 教えて), latest (latest / 最新 / 直近),
  compare and breakdown (vs / 比較 / 内訳, "by task" / タスク別), in :mod:`.phrases`;
- **time phrases** (today / 昨日 / last 7 days / 11月18日以降), in :mod:`.timephrase`.

An ID-like token that is no value but has the shape of a facet's values (``ex-20261199-01`` beside
``ex-20261118-01``) is reported in ``unknown`` and kept in ``where``, so the answer says the
execution does not exist instead of counting over everything.

FAQ answers must not get worse, so a question is a record question only when it names a
distinctive value (an ID with letters and digits), or a snake_case value with one more record
signal, or else when it has at least two record signals and *nothing else*: every word left over
is grammar or filler. "How many failed?" passes; "How many failed login attempts lock me out?"
does not (login, attempts, lock), and neither does "My login failed, what should I do?". A how-to
question ("How do I retry the failed rows of ex-…?", どうやって) is never a record query: the FAQ
answers it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from kotae.records import phrases
from kotae.records.facetmatch import STRONG, WEAK, Matcher
from kotae.records.query import MAX_LIMIT, MAX_VALUES, Operation, RecordQuery
from kotae.records.schema import KindSpec
from kotae.records.timephrase import JST, TimeRange, read_time
from kotae.text.language import detect_language

MAX_QUESTION_CHARS = 2000
_INVISIBLE = re.compile(r"[\u200b-\u200d\u2060\ufeff]")
_DASH = re.compile(r"(?<=[A-Za-z0-9])[\u2010-\u2015\u2212\u30fc\uff70](?=[A-Za-z0-9])")
_LIMITS = (
    re.compile(r"(?<![a-z0-9])(?P<w>latest|newest|last|most recent|top)\s+(?P<n>\d{1,3})(?![0-9])"),
    re.compile(r"(?<![0-9])(?P<n>\d{1,3})\s+(?P<w>latest|newest|most recent)(?![a-z])"),
    re.compile(r"(?<![0-9])(?P<n>\d{1,3})\s*件"),
)
_ASCII_WORD = re.compile(r"[a-z0-9]+")
_JA_RUN = re.compile(r"[\u30a1-\u30fa\u30fc-\u30ff\u3400-\u4dbf\u4e00-\u9fff]+")  # katakana, kanji


class FacetLookup(Protocol):
    """The store's facet lookups, bound by the caller to one kind and the asker's filters."""

    def facet_matches(self, values: Sequence[str]) -> dict[str, list[str]]:
        """value -> the facets it is a value of, for the values that exist."""
        ...

    def facet_values(self, facet: str, *, prefix: str = "", limit: int = 1000) -> dict[str, int]:
        """Up to ``limit`` values of ``facet`` starting with ``prefix``, with their counts."""
        ...


@dataclass(frozen=True)
class ParsedQuestion:
    """A question read as a record query. ``unknown``: facet -> values the question names that
    no visible record has (also in ``query.where``); ``signals``: why, for the trace."""

    query: RecordQuery
    unknown: dict[str, list[str]]
    signals: tuple[str, ...]


@dataclass
class Reading:
    """Everything the parser found in one question; the decision and the query come from it."""

    where: dict[str, set[str]] = field(default_factory=dict)
    unknown: dict[str, set[str]] = field(default_factory=dict)
    strength: int = 0  # of the most distinctive value named (facetmatch.WEAK..STRONG)
    named: int = 0  # values named in all, words included
    categories: set[str] = field(default_factory=set)  # value, intent, noun, time, group
    intents: set[str] = field(default_factory=set)
    group: list[str] = field(default_factory=list)
    mentioned: list[str] = field(default_factory=list)  # facets called by name (prompt version)
    time: TimeRange = field(default_factory=TimeRange)
    limit: int | None = None
    signals: list[str] = field(default_factory=list)
    clean: bool = False  # nothing left over but grammar and filler
    how_to: bool = False  # asks for instructions (how do I, どうやって): never a record query

    def add(self, facet: str, value: str, signal: str) -> None:
        self.where.setdefault(facet, set()).add(value)
        self.named += 1
        self.categories.add("value")
        if signal not in self.signals:
            self.signals.append(signal)


class Scan:
    """The normalised question, with what has been recognised blanked out of it."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._free = list(text)

    def masked(self) -> str:
        return "".join(self._free)

    def low(self) -> str:
        return "".join(c.lower() if len(c.lower()) == 1 else c for c in self._free)

    def take(self, start: int, end: int) -> None:
        self._free[start:end] = " " * (end - start)

    def take_all(self, pattern: re.Pattern[str] | None) -> list[str]:
        """Blank out every match of ``pattern`` in the lower-cased text; the matches."""
        if pattern is None:
            return []
        found = []
        for match in pattern.finditer(self.low()):
            self.take(*match.span())
            found.append(match.group(0))
        return found


def normalise(question: str) -> str:
    """NFKC (full-width letters, digits and dashes to ASCII), dashes inside IDs as ``-``."""
    text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", question))[:MAX_QUESTION_CHARS]
    return _DASH.sub("-", text)


def parse_question(
    question: str,
    lookup: FacetLookup,
    *,
    kind: str = "record",
    spec: KindSpec,
    limit: int = 10,
    now: datetime | None = None,
) -> ParsedQuestion | None:
    """The record query ``question`` asks, or None when it is not a record question.

    Time phrases are read against ``now`` (default: the current time; naive means UTC) in Japan
    time for a Japanese question and in UTC otherwise (see :mod:`.timephrase`). ``limit`` is how
    many records a list shows unless the question says ("latest 5", 3件); "latest" alone is one.
    """
    reading = read(question, lookup, spec=spec, now=now)
    if reading is None or not accepted(reading) or any(len(v) > MAX_VALUES for v in reading.where.values()):
        return None  # not a record question, or one naming more values than a query takes
    where = {facet: sorted(values) for facet, values in reading.where.items()}
    group = _group_by(reading, spec, where)
    operation = _operation(reading, group)
    default = 1 if operation == "latest" else limit
    query = RecordQuery(
        kind=kind,
        operation=operation,
        where=where,
        since=reading.time.since,
        until=reading.time.until,
        group_by=group,
        limit=max(1, min(reading.limit or default, MAX_LIMIT)),
    )
    signals = (f"intent:{operation}", *reading.signals)
    unknown = {facet: sorted(values) for facet, values in sorted(reading.unknown.items())}
    return ParsedQuestion(query=query, unknown=unknown, signals=signals)


def _operation(reading: Reading, group: list[str]) -> Operation:
    """Group when there is something to group by, else count, latest, list (in that order)."""
    if group:
        return "group"
    if "count" in reading.intents:
        return "count"
    return "latest" if "latest" in reading.intents else "list"


def record_signal(question: str, lookup: FacetLookup, *, spec: KindSpec) -> bool:
    """Whether ``question`` could be about records, broader than :func:`parse_question`: it names
    an ID or snake_case value (or one that looks like one), or a record noun (records, runs,
    レコード), or a value word (失敗, needs review) together with an intent. Decides whether Claude
    is offered the record tools; plain words that happen to be values (a task called "leave") do
    not count."""
    reading = read(question, lookup, spec=spec)
    if reading is None:
        return False
    cats = reading.categories
    worded = any(facet in spec.values for facet in reading.where)
    return accepted(reading) or reading.strength > WEAK or "noun" in cats or ("intent" in cats and worded)


def read(question: str, lookup: FacetLookup, *, spec: KindSpec, now: datetime | None = None) -> Reading | None:
    """What ``question`` names and asks, against the kind's facets (None if the kind has none)."""
    if not spec.facets or not question.strip():
        return None
    scan = Scan(normalise(question))
    reading = Reading(how_to=bool(phrases.HOW_TO_PATTERN.search(scan.low())))
    zone = JST if detect_language(scan.text) == "ja" else UTC
    reading.time = read_time(scan.low(), now or datetime.now(UTC), zone)
    for span in reading.time.spans:
        scan.take(*span)
    if reading.time.spans:
        reading.categories.add("time")
        reading.signals.append("time")
    aliases = phrases.facet_aliases(spec.facets)
    Matcher(lookup, spec, aliases).read(scan, reading)
    _value_words(scan, reading, spec)
    _limit(scan, reading)
    _groups(scan, reading, aliases)
    _intents(scan, reading)
    _names(scan, reading, aliases)
    reading.clean = _clean(scan.low())
    return reading


def accepted(reading: Reading) -> bool:
    """Whether what was found makes a record question (module docstring)."""
    cats = reading.categories
    if reading.how_to:
        return False
    if reading.strength >= STRONG:
        # An id alone asks about its records, unless the question goes on about something else
        # in them ("ex-… のリチウムイオン電池の行は？"): retrieval finds that row, a list would not.
        return (
            reading.clean
            or bool(reading.intents)
            or reading.named > 1
            or bool(cats & {"time", "group"})
            or "record_id" in reading.where
        )
    if reading.strength > WEAK:
        return reading.named > 1 or bool(cats & {"noun", "time", "group"}) or bool(reading.intents - {"list"})
    return bool(cats & {"value", "noun", "group"}) and len(cats) >= 2 and reading.clean


def _value_words(scan: Scan, reading: Reading, spec: KindSpec) -> None:
    """Words for facet values (spec.values), e.g. status words; ASCII ones also with one typo."""
    for facet, canon in spec.values.items():
        if facet not in spec.facets:
            continue
        words = {phrases.phrase_key(w): value for value, ws in canon.items() for w in (*ws, value)}
        for found in scan.take_all(phrases.phrase_pattern(words)):
            reading.add(facet, words[phrases.phrase_key(found)], f"word:{facet}")
        single = {w: v for w, v in words.items() if w.isascii() and w.isalpha()}
        for match in _ASCII_WORD.finditer(scan.low()):
            word = match.group(0)
            target = next((w for w in single if word not in phrases.NOT_TYPOS and phrases.close_enough(word, w)), None)
            if target is not None:
                scan.take(*match.span())
                reading.add(facet, single[target], f"word:{facet}")


def _limit(scan: Scan, reading: Reading) -> None:
    low = scan.low()
    for pattern in _LIMITS:
        for match in pattern.finditer(low):
            reading.limit = int(match.group("n"))
            word = match.groupdict().get("w")
            if word and word != "top":
                reading.intents.add("latest")
            scan.take(*match.span())


def _groups(scan: Scan, reading: Reading, aliases: dict[str, str]) -> None:
    """"by task", "per prompt version", タスク別, ステータスごと: the facets to group by."""
    alias, before = phrases.alternation(aliases), phrases.alternation(phrases.GROUP_BEFORE)
    english = re.compile(rf"(?:{before})\s+(?:the\s+)?(?P<a>{alias})(?:\s*(?:and|&|/|,)\s*(?P<b>{alias}))?")
    after = "|".join(phrases.GROUP_AFTER)
    japanese = re.compile(rf"(?P<a>{alias})(?:\s*(?:と|・|&|/)\s*(?P<b>{alias}))?\s*の?(?:{after})")
    for pattern in (english, japanese):
        for match in pattern.finditer(scan.low()):
            for name in ("a", "b"):
                facet = _alias_facet(match.group(name), aliases)
                if facet and facet not in reading.group:
                    reading.group.append(facet)
                    reading.signals.append(f"group:{facet}")
            scan.take(*match.span())
    if reading.group:
        reading.categories.add("group")


def _alias_facet(text: str | None, aliases: dict[str, str]) -> str | None:
    return (aliases.get(phrases.phrase_key(text)) or aliases.get(text.lower())) if text else None


def _intents(scan: Scan, reading: Reading) -> None:
    for name, words in phrases.INTENTS.items():
        if scan.take_all(phrases.phrase_pattern(words)):
            reading.intents.add(name)
    if reading.intents:
        reading.categories.add("intent")


def _names(scan: Scan, reading: Reading, aliases: dict[str, str]) -> None:
    """Facets called by name (prompt version, タスク) and record nouns (records, runs, レコード)."""
    nouns = set(phrases.RECORD_NOUNS)
    for found in scan.take_all(phrases.phrase_pattern(aliases)):
        facet = _alias_facet(found, aliases)
        if facet and facet not in reading.mentioned:
            reading.mentioned.append(facet)
        if found in nouns:
            reading.categories.add("noun")
    if scan.take_all(phrases.phrase_pattern(nouns)):
        reading.categories.add("noun")
    for match in _ASCII_WORD.finditer(scan.low()):
        if match.group(0) not in phrases.NOT_TYPOS and any(
            phrases.close_enough(match.group(0), noun) for noun in nouns if noun.isascii()
        ):
            scan.take(*match.span())
            reading.categories.add("noun")


def _clean(low: str) -> bool:
    """Nothing left but grammar and filler: ASCII words from FILLER_EN, hiragana (but no どこ or
    だれ), and katakana or kanji runs from FILLER_JA (a run lies between hiragana and punctuation)."""
    text = low.replace("'", "").replace("’", "")
    if any(word not in phrases.FILLER_EN for word in _ASCII_WORD.findall(text)):
        return False
    if any(word in text for word in phrases.NOT_RECORD_JA):
        return False
    return all(run in phrases.FILLER_JA for run in _JA_RUN.findall(text))


def _group_by(reading: Reading, spec: KindSpec, where: dict[str, list[str]]) -> list[str]:
    """The facets to group by: those after "by"/別, then for a compare or breakdown the facets it
    names two values of (or names, when it names no values); and the status, so that "v3 against v2"
    shows how each did. A rate (成功率) needs every status, so a single status filter goes."""
    compare = reading.intents & {"compare", "breakdown", "rate"}
    outcome = "status" if "status" in spec.facets else None
    by = [f for f in spec.facets if len(where.get(f, ())) >= 2] if compare else []
    if compare and not by:
        by = [f for f in spec.facets if f in reading.mentioned and f != outcome and len(where.get(f, ())) != 1]
    group = list(dict.fromkeys([*reading.group, *by]))
    rate = "rate" in reading.intents
    if compare and outcome and outcome not in group and len(group) < 2 and (outcome not in where or rate):
        group.append(outcome)
    if rate and outcome in group and len(where.get(outcome, ())) == 1:
        where.pop(outcome)
    return group[:2]


__all__ = ["FacetLookup", "ParsedQuestion", "parse_question", "record_signal"]
