"""The embedded store's lexical ranking: words by field, synonyms, and character n-grams, fused
into one ranked list.

Three FTS5 queries, each an OR of quoted terms over a two-column table (``title``, ``body``),
ranked by FTS5's ``bm25()`` with per-column weights (the weights scale each column's term
frequencies before saturation, with one length norm for the row: BM25F in the form FTS5 offers):

1. **words**: the query's tokens (:func:`kotae.text.tokenize`, content words only) in ``fts``;
2. **synonyms**: the phrases Sudachi's synonym groups add to a Japanese query
   (:mod:`kotae.text.synonyms`), in ``fts`` again. BM25 is a sum over terms, so adding this
   score times ``synonym_weight`` (< 1) to the words' score is BM25 with the expansions weighed
   below the asker's own words;
3. **grams**: the query's character bigrams (:mod:`kotae.text.ngrams`) in ``grams``, which holds
   the bigrams of each chunk's Japanese text; English queries have none and skip it.

The word (+ synonym) list and the gram list are then fused (:func:`kotae.text.fusion.fuse`,
shared with the OpenSearch store): by default each list's scores are divided by its best score
and summed with weights ``1 - gram_weight`` and ``gram_weight``. Reciprocal rank fusion is the
alternative, measured and not chosen: over the word list alone it gained a third of what score
fusion gains on the Japanese FAQ dev set, and lost on JSQuAD. Every query is first pruned of its
most common terms (:func:`terms.prune`, and a tighter budget over ``gram_df`` for bigrams).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from kotae.models import Filters
from kotae.providers.sqlite_store import terms as term_stats
from kotae.text import tokenize
from kotae.text.fusion import RRF_K, LexicalRanking, fuse
from kotae.text.language import JAPANESE_CHAR
from kotae.text.ngrams import char_ngrams
from kotae.text.synonyms import japanese_synonyms
from kotae.text.tokenizers import japanese_backend

# Postings a lexical query may score before its most common terms are dropped (see terms.prune).
MAX_POSTINGS = 10_000
# The bigram query's budget: its rarest grams, at most MAX_GRAMS and GRAM_POSTINGS postings. Grams
# are many per question and short ones are common, and each matched row is scored per gram.
MAX_GRAMS = 16
GRAM_POSTINGS = 2_500

Scores = dict[int, float]
__all__ = ["RRF_K", "LexicalRanking", "fuse", "search"]


def match_expression(phrases: Sequence[Sequence[str]]) -> str:
    """An FTS5 query that ORs the phrases, each token quoted as a string so none is read as
    syntax; a phrase of several tokens must match them in order (``"送付" + "先"``)."""
    quoted = dict.fromkeys(" + ".join('"' + t.replace('"', '""') + '"' for t in p if t) for p in phrases)
    return " OR ".join(q for q in quoted if q)


def scope_clause(filters: Filters, column: str) -> tuple[str, list[Any]]:
    """Filters as correlated EXISTS clauses: one index probe per candidate row. (An
    ``IN (subquery)`` on the FTS rowid would make SQLite re-run the MATCH per row id.)"""
    clauses: list[str] = []
    params: list[Any] = []
    if filters.scopes is not None:
        marks = ",".join("?" * len(filters.scopes)) or "NULL"
        clauses.append(
            f"EXISTS (SELECT 1 FROM chunk_scopes s WHERE s.id = {column} AND s.scope IN ({marks}))"
        )
        params.extend(filters.scopes)
    if filters.kinds is not None:
        marks = ",".join("?" * len(filters.kinds)) or "NULL"
        clauses.append(f"EXISTS (SELECT 1 FROM chunks k WHERE k.id = {column} AND k.kind IN ({marks}))")
        params.extend(filters.kinds)
    return "".join(f" AND {c}" for c in clauses), params


def _bm25(
    db: sqlite3.Connection, table: str, expression: str, k: int, filters: Filters, ranking: LexicalRanking
) -> Scores:
    """{row id: BM25} of the best ``k`` rows of ``table`` (``fts`` or ``grams``) matching."""
    if not expression:
        return {}
    where, params = scope_clause(filters, f"{table}.rowid")
    # bm25() once per matching row, ordered by its alias: naming it again in ORDER BY would
    # compute it twice (a fifth of the query's time on 10k chunks, bench/search_latency.py).
    sql = (
        f"SELECT rowid, bm25({table}, ?, ?) AS rank_ FROM {table} WHERE {table} MATCH ?{where} "
        "ORDER BY rank_ LIMIT ?"
    )
    weights = [ranking.title_weight, ranking.body_weight]
    found = db.execute(sql, [*weights, expression, *params, k]).fetchall()
    return {int(row_id): -float(score) for row_id, score in found}


def _gram_terms(db: sqlite3.Connection, grams: Sequence[str]) -> list[str]:
    """The query's rarest bigrams found in the gram index, at most ``MAX_GRAMS``, less the most
    common while the postings to score exceed ``GRAM_POSTINGS`` (as :func:`terms.prune` does for
    words; the counts are over the whole store and only bound the work)."""
    unique = list(dict.fromkeys(grams))
    if not unique:
        return []
    sql = f"SELECT term, df FROM gram_df WHERE df > 0 AND term IN ({','.join('?' * len(unique))})"
    df = {term: int(n) for term, n in db.execute(sql, unique)}
    ordered = sorted((g for g in unique if g in df), key=lambda g: df[g])[:MAX_GRAMS]
    while len(ordered) > 1 and sum(df[g] for g in ordered) > GRAM_POSTINGS:
        ordered.pop()
    return ordered


def search(
    db: sqlite3.Connection, query: str, k: int, filters: Filters, ranking: LexicalRanking
) -> list[tuple[int, float]]:
    """The best ``k`` (row id, score) pairs for ``query``, best first (see the module docstring)."""
    tokens = tokenize(query)
    kept = term_stats.prune(db, tokens, MAX_POSTINGS) if tokens else []
    words = _bm25(db, "fts", match_expression([[t] for t in kept]), k, filters, ranking)
    if ranking.synonyms and tokens and japanese_backend() == "mecab" and JAPANESE_CHAR.search(query):
        expansions = japanese_synonyms().expand(tokens)
        extra = _bm25(db, "fts", match_expression(expansions), k, filters, ranking)
        for row_id, score in extra.items():
            words[row_id] = words.get(row_id, 0.0) + ranking.synonym_weight * score
    grams: Scores = {}
    if ranking.grams:
        expression = match_expression([[g] for g in _gram_terms(db, char_ngrams(query))])
        grams = _bm25(db, "grams", expression, k, filters, ranking)
    return fuse(words, grams, ranking)[:k]
