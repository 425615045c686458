"""Facet look-ups on the embedded store: the values a facet takes and which facets hold given
values (RecordQuerying.facet_values and facet_matches), for a question parser to recognize
execution ids, task names and statuses, or to suggest the closest existing ones.

Both read only ``facets_value`` (name, value, class, ...) and only the classes the filters
allow (:func:`.record_queries.visible_classes`), so a value only hidden items have is never
offered. Names and values are bound parameters.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from kotae.models import Filters
from kotae.providers.sqlite_store.record_queries import encodable, marks, visible_classes

# Values looked up per statement by facet_matches.
BATCH = 500


def prefix_end(prefix: str) -> str | None:
    """The least text above every text that starts with ``prefix`` (SQLite compares text as
    UTF-8 bytes, which is code point order), or None when there is none: ``prefix`` is empty or
    all U+10FFFF."""
    while prefix:
        point = ord(prefix[-1]) + 1
        if point <= 0x10FFFF:
            return prefix[:-1] + chr(0xE000 if 0xD800 <= point <= 0xDFFF else point)
        prefix = prefix[:-1]
    return None


def facet_values(
    db: sqlite3.Connection, kind: str, facet: str, filters: Filters, *, prefix: str, limit: int
) -> dict[str, int]:
    """Up to ``limit`` values of ``facet`` that visible items of ``kind`` have, from ``prefix``
    on, in value order, each with its item count: one range of ``facets_value``, read in
    order and left after ``limit`` values."""
    classes = visible_classes(db, kind, filters)
    if not classes or limit < 1 or not encodable(prefix) or not encodable(facet):
        return {}
    sql = f"SELECT value, count(*) FROM facets WHERE name = ? AND class IN ({marks(classes)}) AND value >= ?"
    params: list[Any] = [facet, *classes, prefix]
    end = prefix_end(prefix)
    if end is not None:
        sql += " AND value < ?"
        params.append(end)
    sql += " GROUP BY value ORDER BY value LIMIT ?"
    return {value: int(n) for value, n in db.execute(sql, [*params, limit])}


def facet_names(db: sqlite3.Connection) -> list[str]:
    """Every facet name in the store, in order: one index seek per name, never a scan."""
    names: list[str] = []
    (name,) = db.execute("SELECT min(name) FROM facets").fetchone()
    while name is not None:
        names.append(name)
        (name,) = db.execute("SELECT min(name) FROM facets WHERE name > ?", (name,)).fetchone()
    return names


def facet_matches(
    db: sqlite3.Connection, kind: str, values: Sequence[str], filters: Filters
) -> dict[str, list[str]]:
    """For each of ``values`` some visible item of ``kind`` has: the facets it is a value of,
    sorted; values no visible item has are left out. BATCH values per statement and name."""
    classes = visible_classes(db, kind, filters)
    wanted = sorted({v for v in values if isinstance(v, str) and v and encodable(v)})
    if not classes or not wanted:
        return {}
    found: dict[str, list[str]] = {}
    for name in facet_names(db):
        for start in range(0, len(wanted), BATCH):
            batch = wanted[start : start + BATCH]
            sql = (
                f"SELECT DISTINCT value FROM facets WHERE name = ? AND value IN ({marks(batch)}) "
                f"AND class IN ({marks(classes)})"
            )
            for (value,) in db.execute(sql, [name, *batch, *classes]):
                found.setdefault(value, []).append(name)
    return {value: sorted(names) for value, names in sorted(found.items())}
