"""Term coverage: the lexical half of a hit's relevance, and the answer gate's main evidence.

One definition for every store, so a threshold means the same on SQLite and on OpenSearch:

* the query's terms are the distinct tokens of :func:`kotae.text.tokenize` (the tokenizer the
  lexical index uses), and a chunk *contains* a term when it is among the tokens of its title and
  text;
* each term weighs its BM25 IDF, ``ln(1 + (N - df + 0.5) / (df + 0.5))``, where ``N`` is the number
  of chunks the asker may see and ``df`` the number of those containing the term, both as the
  store reports them for the asker's filters (:meth:`~kotae.providers.base.Store.term_frequencies`):
  hidden chunks weigh nothing, so a grade cannot reveal whether a word occurs in them;
* a chunk's coverage is the weight of the query terms it contains over the weight of all of them,
  in 0..1: a chunk holding the one rare word of a question covers most of it, one holding only
  words found everywhere covers little.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Protocol

from kotae.models import Document, Filters
from kotae.text import tokenize


class TermStatistics(Protocol):
    def term_frequencies(
        self, terms: Sequence[str], filters: Filters | None = None
    ) -> tuple[int, dict[str, int]]: ...


def query_terms(query: str) -> list[str]:
    """The distinct tokens of the query, in order."""
    return list(dict.fromkeys(tokenize(query)))


def idf_weights(terms: Sequence[str], chunks: int, df: Mapping[str, int]) -> dict[str, float]:
    """BM25 IDF of each term (always > 0), with a store of no chunks counted as one."""
    total = max(chunks, 1)
    weights = {}
    for term in terms:
        found = min(max(df.get(term, 0), 0), total)
        weights[term] = math.log(1 + (total - found + 0.5) / (found + 0.5))
    return weights


def text_coverage(weights: Mapping[str, float], text: str) -> float:
    """The weight of the terms ``text`` contains over the weight of all terms (0 without terms)."""
    whole = sum(weights.values())
    if not whole:
        return 0.0
    present = set(tokenize(text))
    return sum(w for term, w in weights.items() if term in present) / whole


def coverage(weights: Mapping[str, float], documents: Sequence[Document]) -> list[float]:
    """For each document, the weight of the terms its title and text contain over the weight of all terms."""
    return [text_coverage(weights, f"{doc.title}\n{doc.text}") for doc in documents]


def term_coverage(
    store: TermStatistics, query: str, documents: Sequence[Document], filters: Filters | None = None
) -> list[float]:
    """The coverage of ``query`` by each document, with IDF from the store's frequencies over what
    ``filters`` let the asker see (None: the whole store, for tools that see everything). A query
    with no terms covers nothing, and the store is not asked."""
    terms = query_terms(query)
    if not terms or not documents:
        return [0.0 for _ in documents]
    chunks, df = store.term_frequencies(terms, filters or Filters())
    return coverage(idf_weights(terms, chunks, df), documents)
