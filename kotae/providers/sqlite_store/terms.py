"""Term statistics of the embedded store, kept per visibility class (see :mod:`.schema`).

A chunk's class is its kind and its set of scopes. Filters allow or refuse whole classes, so
the chunks and term frequencies one asker may see are sums over the visible classes: exact, and
a few index probes per term however large the store is. Nothing about a class the filters refuse
enters the answer, so the statistics cannot tell whether a word occurs in hidden items.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from kotae.models import Document, Filters
from kotae.providers.sqlite_store import text_rows
from kotae.providers.sqlite_store.schema import class_key


def class_of(db: sqlite3.Connection, doc: Document) -> int:
    """The id of the document's visibility class, created on first use."""
    key = class_key(doc.scopes)
    db.execute("INSERT OR IGNORE INTO classes (kind, scopes) VALUES (?, ?)", (doc.kind, key))
    row = db.execute("SELECT id FROM classes WHERE kind = ? AND scopes = ?", (doc.kind, key)).fetchone()
    return int(row[0])


def count(db: sqlite3.Connection, class_id: int, tokens: Sequence[str], delta: int) -> None:
    """Add (+1) or remove (-1) one chunk of the class with these tokens."""
    db.execute("UPDATE classes SET chunks = chunks + ? WHERE id = ?", (delta, class_id))
    text_rows.add_counts(db, class_id, list(tokens), delta)


def visible_classes(db: sqlite3.Connection, filters: Filters) -> dict[int, int] | None:
    """{class id: chunks} of the classes the filters allow; None when they allow every class."""
    if filters.scopes is None and filters.kinds is None:
        return None
    wanted_scopes = None if filters.scopes is None else set(filters.scopes)
    wanted_kinds = None if filters.kinds is None else set(filters.kinds)
    out = {}
    for class_id, kind, scopes, chunks in db.execute("SELECT id, kind, scopes, chunks FROM classes"):
        if wanted_kinds is not None and kind not in wanted_kinds:
            continue
        if wanted_scopes is not None and not wanted_scopes.intersection(json.loads(scopes)):
            continue
        out[class_id] = chunks
    return out


def chunk_count(db: sqlite3.Connection, classes: dict[int, int] | None) -> int:
    if classes is not None:
        return sum(max(c, 0) for c in classes.values())
    return int(db.execute("SELECT coalesce(sum(chunks), 0) FROM classes").fetchone()[0])


def frequencies(
    db: sqlite3.Connection, terms: Sequence[str], classes: dict[int, int] | None
) -> dict[str, int]:
    """How many chunks of the classes (None: all) contain each distinct term; terms found in
    none of them are left out."""
    unique = list(dict.fromkeys(terms))
    if not unique or classes == {}:
        return {}
    sql = f"SELECT term, sum(df) FROM class_df WHERE term IN ({','.join('?' * len(unique))})"
    params: list[object] = list(unique)
    if classes is not None:
        sql += f" AND class IN ({','.join('?' * len(classes))})"
        params.extend(classes)
    sql += " GROUP BY term HAVING sum(df) > 0"
    return {term: int(df) for term, df in db.execute(sql, params)}


def prune(db: sqlite3.Connection, terms: Sequence[str], budget: int) -> list[str]:
    """The query terms worth matching: those found in some chunk, less the most common ones
    while the postings to score exceed the budget.

    A term in no chunk matches nothing, so it is dropped first (kept, it would be taken for the
    rarest term and be all that is left). FTS5 scores every matching row, so a term found in most
    chunks costs a full scan of them while adding almost nothing to BM25 (its IDF is near zero).
    The rarest term found is always kept, and small stores are never pruned. The counts are over
    the whole store: they measure the work, and only decide which words are matched, never what
    a result may show.
    """
    df = frequencies(db, terms, None)
    ordered = sorted((t for t in dict.fromkeys(terms) if t in df), key=lambda t: df[t])
    while len(ordered) > 1 and sum(df[t] for t in ordered) > budget:
        ordered.pop()
    return ordered
