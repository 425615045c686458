"""The embedded store's record rows, each written inside the caller's write transaction.

Every item with chunks has one ``records`` row (its visibility class, timestamp and first chunk)
and one ``facets`` row per facet, so facet questions count items, never chunks. Facet names
are stored as values of an entity-attribute-value table: a name reaches SQL only as a bound
parameter, never as a column name. The class and timestamp are repeated on each facet row so
that a filter on one facet, a scope and a time range is answered from one index (see
:mod:`.schema`). An item's facets, timestamp and visibility are those of its first chunk, the
one a record answer cites (a rendered item carries the same ones on every chunk).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence

from kotae.models import Document


def first_chunk(documents: Sequence[Document]) -> Document | None:
    """The chunk that stands for the item: the lowest chunk index, then chunk id."""
    return min(documents, key=lambda d: (d.chunk_index, d.chunk_id), default=None)


def put(
    db: sqlite3.Connection,
    item_key: str,
    *,
    class_id: int,
    chunk: int,
    facets: Mapping[str, str],
    timestamp: str | None,
) -> None:
    """Make the item's record row and facet rows these (the row id of a known item is kept)."""
    ((record,),) = db.execute(
        "INSERT INTO records (item_key, class, ts, chunk) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(item_key) DO UPDATE SET class = excluded.class, ts = excluded.ts, "
        "chunk = excluded.chunk RETURNING id",
        (item_key, class_id, timestamp, chunk),
    ).fetchall()
    db.execute("DELETE FROM facets WHERE record = ?", (record,))
    db.executemany(
        "INSERT INTO facets (record, name, value, class, ts) VALUES (?, ?, ?, ?, ?)",
        [(record, name, value, class_id, timestamp) for name, value in sorted(facets.items())],
    )


def put_item(db: sqlite3.Connection, item_key: str, documents: Sequence[Document]) -> None:
    """Record the item whose chunks were just written as ``documents`` (none: no record)."""
    first = first_chunk(documents)
    if first is None:
        drop(db, item_key)
        return
    chunk, class_id = db.execute("SELECT id, class FROM chunks WHERE chunk_id = ?", (first.chunk_id,)).fetchone()
    put(db, item_key, class_id=class_id, chunk=chunk, facets=first.facets, timestamp=first.timestamp)


def drop(db: sqlite3.Connection, item_key: str) -> None:
    """Forget the item's record and facets: a deleted item counts nowhere."""
    db.execute("DELETE FROM facets WHERE record IN (SELECT id FROM records WHERE item_key = ?)", (item_key,))
    db.execute("DELETE FROM records WHERE item_key = ?", (item_key,))


def fill_from_chunks(db: sqlite3.Connection) -> int:
    """Rebuild every record row from the stored chunks (a file of the previous schema); returns
    how many items were recorded. Chunks written before documents carried facets give records
    with no facets and no timestamp until their items are ingested again."""
    db.execute("DELETE FROM facets")
    db.execute("DELETE FROM records")
    found = db.execute(
        "SELECT item_key, id, class, json_extract(doc, '$.facets'), json_extract(doc, '$.timestamp') "
        "FROM chunks ORDER BY item_key, json_extract(doc, '$.chunk_index'), chunk_id"
    )
    seen = None
    items = 0
    for item_key, chunk, class_id, facets, timestamp in found.fetchall():
        if item_key == seen:
            continue
        seen, items = item_key, items + 1
        put(
            db,
            item_key,
            class_id=class_id,
            chunk=chunk,
            facets=_stored_facets(facets),
            timestamp=timestamp if isinstance(timestamp, str) else None,
        )
    return items


def _stored_facets(text: str | None) -> dict[str, str]:
    """The facets a stored chunk carries (``json_extract`` gives an object as JSON text);
    anything but string values is left out."""
    if not isinstance(text, str):
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}
