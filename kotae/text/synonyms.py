"""Japanese query expansion from Sudachi's synonym dictionary (``data/ja_synonyms.tsv``, see
its NOTICE for provenance and license).

Queries are expanded, documents are not: the index stays as written, and an expansion can be
weighed below the words the asker used (the store scores expansions as a separate, down-weighted
query; see :mod:`kotae.providers.sqlite_store.lexical`). A group is reached when one of its
trigger entries occurs in the query's tokens as a contiguous run (an entry may be several tokens:
``送付 先``); every other entry of the group is then an expansion, a *phrase* of tokens.
Sudachi's ambiguous words (``~`` in the file) are expansions but never triggers, and neither is
a one-character entry (市, 園: too ambiguous to expand from).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

Phrase = tuple[str, ...]

MAX_EXPANSIONS = 24
"""Phrases one query may gain: each is matched, so this bounds the cost of a query."""

_LONGEST_TRIGGER = 3


@dataclass(frozen=True)
class SynonymTable:
    """Trigger phrase -> the groups it belongs to; each group a tuple of its entries."""

    groups: tuple[tuple[Phrase, ...], ...]
    triggers: dict[Phrase, tuple[int, ...]]

    @classmethod
    def parse(cls, text: str) -> SynonymTable:
        groups: list[tuple[Phrase, ...]] = []
        triggers: dict[Phrase, list[int]] = {}
        for line in text.splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            entries = []
            for field in line.split("\t"):
                phrase = tuple(field.lstrip("~").split())
                entries.append(phrase)
                if not field.startswith("~") and len(phrase) <= _LONGEST_TRIGGER and len("".join(phrase)) > 1:
                    triggers.setdefault(phrase, []).append(len(groups))
            groups.append(tuple(entries))
        return cls(tuple(groups), {k: tuple(v) for k, v in triggers.items()})

    def expand(self, tokens: Sequence[str], limit: int = MAX_EXPANSIONS) -> list[Phrase]:
        """The phrases the query's tokens reach, in query order, without the query's own words
        and without repeats, at most ``limit``."""
        own = set(tokens)
        out: dict[Phrase, None] = {}
        for start in range(len(tokens)):
            for size in range(1, _LONGEST_TRIGGER + 1):
                run = tuple(tokens[start : start + size])
                if len(run) < size:
                    break
                for group in self.triggers.get(run, ()):
                    for phrase in self.groups[group]:
                        if not own.issuperset(phrase):
                            out.setdefault(phrase, None)
        return list(out)[:limit]


@lru_cache(maxsize=1)
def japanese_synonyms() -> SynonymTable:
    """The shipped table, read once per process (about 25,000 groups, ~50 ms)."""
    text = files("kotae.text").joinpath("data", "ja_synonyms.tsv").read_text(encoding="utf-8")
    return SynonymTable.parse(text)
