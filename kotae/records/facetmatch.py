"""Facet values a question names: its candidate tokens looked up in the store in one call, and
ID-like tokens that are no value but look like one (an execution that does not exist).

Candidates are ID-like tokens (letters with digits, or with ``_ - .`` inside: ``ex-20261118-01``,
``rec_12``, ``v3``, ``normalize_company_name``), numbers of three or more digits, plain words of
three or more letters, and runs of 2-4 words (multi-word task names), each also in lower, upper
and capitalised case, since stores compare values exactly. A value's *strength* says how much it
alone makes a record question: an ID with letters and digits is unmistakable; a snake_case name
nearly so; a short or plain word (``v3``, ``invoice``) could be anything.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from kotae.records import phrases
from kotae.records.query import MAX_VALUE_CHARS
from kotae.records.schema import KindSpec

if TYPE_CHECKING:
    from kotae.records.parser import Reading, Scan

WEAK, MEDIUM, STRONG = 1, 2, 3
MAX_CANDIDATES = 400
MAX_SHAPE_CHECKS = 3  # unknown-looking tokens checked per question (each costs a lookup per facet)
SHAPE_SAMPLE = 200
_TOKEN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_.\-]*[A-Za-z0-9])?")
_PREFIX = re.compile(r"[A-Za-z]+[_.\-]?")


class _Lookup(Protocol):
    def facet_matches(self, values: Sequence[str]) -> dict[str, list[str]]: ...
    def facet_values(self, facet: str, *, prefix: str = "", limit: int = 1000) -> dict[str, int]: ...


@dataclass(frozen=True)
class Token:
    start: int
    end: int
    text: str
    kind: str  # id | digits | word | words


def strength(value: str) -> int:
    """STRONG for an ID with letters and digits (4+ characters), MEDIUM for a snake_case name
    (6+), WEAK for anything else."""
    letters, digits = any(c.isalpha() for c in value), any(c.isdigit() for c in value)
    if len(value) >= 4 and letters and digits and " " not in value:
        return STRONG
    if len(value) >= 6 and "_" in value and " " not in value:
        return MEDIUM
    return WEAK


def shape(value: str) -> str:
    """Runs of letters as ``a``, of digits as ``9``, other characters kept: ``ex-20261118-01`` is
    ``a-9-9``. Two ids of one facet share it; a mistyped one usually does too."""
    return re.sub(r"[^\W\d_]+", "a", re.sub(r"\d+", "9", value))


def tokens(masked: str) -> list[Token]:
    """The candidate tokens of the question (already blanked where time phrases were)."""
    raw = [
        Token(m.start(), m.end(), m.group(0), _kind(m.group(0)))
        for m in _TOKEN.finditer(masked)
        if len(m.group(0)) <= MAX_VALUE_CHARS
    ]
    return [t for t in raw if t.kind] + _word_runs(raw, masked)


def _kind(text: str) -> str:
    if text.isdigit():
        return "digits" if len(text) >= 3 else ""
    if any(c.isdigit() or c in "_.-" for c in text):
        return "id"
    return "word" if len(text) >= 3 and text.lower() not in phrases.FILLER_EN else ""


def _word_runs(found: list[Token], masked: str) -> list[Token]:
    """Runs of 2-4 alphabetic words separated by single spaces (a task called "Extract invoice total")."""
    runs: list[Token] = []
    for i, first in enumerate(found):
        for j in range(i + 1, min(i + 4, len(found))):
            gap = masked[found[j - 1].end:found[j].start]
            if gap != " " or not found[j].text.isalpha() or not first.text.isalpha():
                break
            runs.append(Token(first.start, found[j].end, masked[first.start:found[j].end], "words"))
    return runs


def variants(text: str) -> list[str]:
    return list(dict.fromkeys([text, text.lower(), text.upper(), text.capitalize()]))


class Matcher:
    """Finds the facet values a question names, for one kind, with the lookups it is given."""

    def __init__(self, lookup: _Lookup, spec: KindSpec, aliases: dict[str, str]) -> None:
        self.lookup = lookup
        self.spec = spec
        self.aliases = aliases

    def read(self, scan: Scan, reading: Reading) -> None:
        """Add the values ``scan`` names (and unknown ID-like ones) to ``reading``; blank them out."""
        candidates = tokens(scan.masked())
        chosen = self._chosen(candidates, self._preferred(scan.low()))
        for token, value, facet in chosen:
            self._add(scan, reading, token, value, facet, f"facet:{facet}")
        taken = [(t.start, t.end) for t, _, _ in chosen]
        checked = 0
        for token in candidates:
            if token.kind != "id" or _overlaps(token, taken) or not re.search(r"[\d_]", token.text):
                continue
            if checked == MAX_SHAPE_CHECKS:
                break
            checked += 1
            shaped = self._shaped(token.text)
            if shaped is not None:
                value, facet = shaped
                reading.unknown.setdefault(facet, set()).add(value)
                self._add(scan, reading, token, value, facet, f"unknown:{facet}")

    def _add(self, scan: Scan, reading: Reading, token: Token, value: str, facet: str, signal: str) -> None:
        reading.add(facet, value, signal)
        # A facet with value words (a status) has word-like values: needs_review is no id.
        reading.strength = max(reading.strength, WEAK if facet in self.spec.values else strength(value))
        scan.take(token.start, token.end)

    def _preferred(self, low: str) -> set[str]:
        """Facets the question calls by name: they win when a value belongs to several."""
        pattern = phrases.phrase_pattern(self.aliases)
        if pattern is None:
            return set()
        return {self.aliases.get(phrases.phrase_key(m.group(0)), "") for m in pattern.finditer(low)}

    def _chosen(self, candidates: list[Token], preferred: set[str]) -> list[tuple[Token, str, str]]:
        """(token, value, facet) for the candidates that are values, longest first, none overlapping."""
        asked = list(dict.fromkeys(v for t in candidates for v in variants(t.text)))[:MAX_CANDIDATES]
        found = self.lookup.facet_matches(asked) if asked else {}
        hits: list[tuple[Token, str, str]] = []
        for token in candidates:
            for value in variants(token.text):
                facets = [f for f in found.get(value, ()) if f in self.spec.facets]
                if facets:
                    order = sorted(facets, key=lambda f: (f not in preferred, self.spec.facets.index(f)))
                    hits.append((token, value, order[0]))
                    break
        chosen: list[tuple[Token, str, str]] = []
        for hit in sorted(hits, key=lambda h: (h[0].start - h[0].end, h[0].start)):
            if not _overlaps(hit[0], [(t.start, t.end) for t, _, _ in chosen]):
                chosen.append(hit)
        return sorted(chosen, key=lambda h: h[0].start)

    def _shaped(self, text: str) -> tuple[str, str] | None:
        """(value, facet) when ``text`` has the prefix and shape of a facet's existing values."""
        for value in dict.fromkeys([text, text.lower()]):
            prefix = _PREFIX.match(value)
            if prefix is None:
                continue
            for facet in self.spec.facets:
                known = self.lookup.facet_values(facet, prefix=prefix.group(0), limit=SHAPE_SAMPLE)
                if any(shape(v) == shape(value) for v in known):
                    return value, facet
        return None


def _overlaps(token: Token, spans: list[tuple[int, int]]) -> bool:
    return any(token.start < end and start < token.end for start, end in spans)
