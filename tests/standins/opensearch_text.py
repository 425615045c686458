"""Full-text scoring of the OpenSearch stand-in: ``combined_fields`` (BM25F) and ``match_phrase``
(BM25 of the phrase), on text fields analyzed in a documented, simplified way.

Analysis by the field's analyzer (read from the index settings):

- an analyzer whose filters include ``cjk_bigram``: NFKC + lower case, each run of CJK script
  cut into overlapping bigrams (a lone character kept as a unigram, as Lucene's CJKBigramFilter
  does); other words are kept, unless a ``keep_types`` filter keeps only ``<DOUBLE>``/``<SINGLE>``;
- any other analyzer (kuromoji's chain, standard, English): :func:`kotae.text.tokenize`, which
  plays the part of kuromoji + base form + part-of-speech and stop filters + stemming. Real
  kuromoji (IPADIC base forms) differs from it: the stand-in checks the plumbing and the
  arithmetic, not the dictionary.

Scores follow Lucene's BM25 (k1 = 1.2, b = 0.75, ``idf = ln(1 + (N - df + 0.5) / (df + 0.5))``,
``tf / (tf + k1 (1 - b + b dl / avgdl))``), with statistics over every document of the index
that has the field. ``combined_fields`` is BM25F as Lucene's CombinedFieldQuery computes it: per
term, the field boosts weigh the term frequencies and lengths, the document frequency is the
largest of the fields'. A phrase's tf is its number of occurrences, its idf the sum of its terms'.
https://docs.opensearch.org/latest/query-dsl/full-text/combined-fields/
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from kotae.text import tokenize

K1, B = 1.2, 0.75
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3005\u30fc\uff66-\uff9f]+")
_WORD = re.compile(r"[^\W_]+")


@lru_cache(maxsize=200_000)
def bigrams(text: str, *, cjk_only: bool) -> tuple[str, ...]:
    """The stand-in's cjk_bigram analysis of ``text``."""
    norm = unicodedata.normalize("NFKC", text).lower()
    out: list[str] = []
    for piece in re.split(f"({_CJK.pattern})", norm):
        if _CJK.fullmatch(piece):
            out += [piece] if len(piece) == 1 else [piece[i : i + 2] for i in range(len(piece) - 1)]
        elif not cjk_only:
            out += _WORD.findall(piece)
    return tuple(out)


@lru_cache(maxsize=200_000)
def words(text: str) -> tuple[str, ...]:
    return tuple(tokenize(text))


def analyzer(settings: dict[str, Any], name: str | None) -> Callable[[str], tuple[str, ...]]:
    """The stand-in's analysis for the analyzer ``name`` of an index's ``settings``."""
    analysis = settings.get("analysis") or settings.get("index", {}).get("analysis") or {}
    spec = (analysis.get("analyzer") or {}).get(name or "standard", {})
    chain = spec.get("filter", [])
    if "cjk_bigram" not in chain:
        return words
    defined = analysis.get("filter") or {}
    keep = [defined.get(f, {}) for f in chain if defined.get(f, {}).get("type") == "keep_types"]
    cjk_only = any(set(k.get("types", [])) <= {"<DOUBLE>", "<SINGLE>"} for k in keep)
    return lambda text: bigrams(text, cjk_only=cjk_only)


class TextFields:
    """The analyzed text fields of one index's documents, and the BM25 statistics over them,
    for one request (the documents do not change during it, so both are memoized)."""

    def __init__(self, index: Any) -> None:
        self.index = index
        self._tokens: dict[tuple[str, int], tuple[str, ...]] = {}
        self._stats: dict[tuple[str, tuple[str, ...]], tuple[int, float, dict[str, int]]] = {}

    def tokens(self, path: str, src: dict[str, Any]) -> tuple[str, ...]:
        key = (path, id(src))
        if key not in self._tokens:
            spec = self.index.mapping.field(path) or {}
            analyze = analyzer(self.index.settings, spec.get("analyzer"))
            values = self.index.indexed(path.split(".")[0], src) if spec.get("type") == "text" else []
            self._tokens[key] = tuple(t for v in values for t in analyze(str(v)))
        return self._tokens[key]

    def stats(self, path: str, terms: tuple[str, ...]) -> tuple[int, float, dict[str, int]]:
        """(documents with the field, their average length, {term: documents holding it})."""
        if (path, terms) not in self._stats:
            docs = [set(t) for src in self.index.docs.values() if (t := self.tokens(path, src))]
            total = sum(len(self.tokens(path, src)) for src in self.index.docs.values())
            df = {term: sum(1 for t in docs if term in t) for term in terms}
            self._stats[path, terms] = len(docs), (total / len(docs) if docs else 0.0), df
        return self._stats[path, terms]

    def analyze_query(self, path: str, text: str) -> tuple[str, ...]:
        spec = self.index.mapping.field(path) or {}
        return analyzer(self.index.settings, spec.get("analyzer"))(text)


def _idf(n: int, df: int) -> float:
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


def _saturate(tf: float, dl: float, avgdl: float) -> float:
    return tf / (tf + K1 * (1 - B + B * dl / avgdl)) if tf and avgdl else 0.0


def _field_boost(field: str) -> tuple[str, float]:
    name, _, boost = field.partition("^")
    return name, float(boost or 1.0)


def combined_fields(text: TextFields, spec: dict[str, Any], src: dict[str, Any]) -> float | None:
    """BM25F of the query's terms over the fields; None when no term is in any field (operator
    ``or``) or some term is missing (``and``)."""
    fields = [_field_boost(f) for f in spec["fields"]]
    terms = tuple(dict.fromkeys(text.analyze_query(fields[0][0], str(spec["query"]))))
    stats = {name: text.stats(name, terms) for name, _ in fields}
    docs = {name: text.tokens(name, src) for name, _ in fields}
    n = max(s[0] for s in stats.values())
    avgdl = sum(w * stats[name][1] for name, w in fields)
    dl = sum(w * len(docs[name]) for name, w in fields)
    score, matched = 0.0, 0
    for term in terms:
        tf = sum(w * docs[name].count(term) for name, w in fields)
        if tf:
            matched += 1
            score += _idf(n, max(stats[name][2][term] for name, _ in fields)) * _saturate(tf, dl, avgdl)
    everything = str(spec.get("operator", "or")).lower() == "and"
    if not matched or (everything and matched < len(terms)):
        return None
    return float(spec.get("boost", 1.0)) * score


def _occurrences(tokens: tuple[str, ...], phrase: tuple[str, ...]) -> int:
    size = len(phrase)
    return sum(1 for i in range(len(tokens) - size + 1) if tokens[i : i + size] == phrase)


def match_phrase(text: TextFields, spec: dict[str, Any], src: dict[str, Any]) -> float | None:
    """BM25 of a phrase on one field: None when the document does not hold it."""
    ((path, condition),) = spec.items()
    condition = condition if isinstance(condition, dict) else {"query": condition}
    phrase = text.analyze_query(path, str(condition["query"]))
    tokens = text.tokens(path, src)
    tf = _occurrences(tokens, phrase) if phrase else 0
    if not tf:
        return None
    n, avgdl, df = text.stats(path, tuple(dict.fromkeys(phrase)))
    idf = sum(_idf(n, df[t]) for t in phrase)
    return float(condition.get("boost", 1.0)) * idf * _saturate(tf, len(tokens), avgdl)
