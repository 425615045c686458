"""Record queries on the embedded store: counts, lists and groups over the ``records`` and
``facets`` tables (:mod:`.record_rows`), each inside the caller's read snapshot.

Visibility first: the classes (kind and scope set, :mod:`.terms`) of the query's kind that the
filters allow are found, and every statement then says ``class IN (...)``, so a hidden item is
never counted, listed or grouped; each listed document is checked again with
:func:`~kotae.providers.base.allows`. Every value, facet names included, is a bound parameter:
only placeholders and fixed table aliases are written into the SQL text.

How the work is bounded:

* Facet filters start from the narrowest one (estimated by reading at most ``ESTIMATE_CAP``
  index entries of each) and check the others per item, narrowest first, by primary key. The
  start is read from ``facets_value`` (name, value, class, record, ...), so the items come in
  record order and the checks walk the facets table forwards instead of jumping about it.
* A list reads ``records_recent`` newest first and stops at ``limit`` matches, when that takes
  at most ``SCAN_MAX`` records (judged from the total); otherwise, or when the records read
  hold too few, it sorts the matches instead.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kotae.models import Document, Filters
from kotae.providers.base import allows
from kotae.providers.sqlite_store import terms
from kotae.records.facets import utc_timestamp
from kotae.records.query import RecordQuery, RecordResult

# The group of the items that lack a grouped facet.
NONE = "(none)"
# Index entries read per facet filter to tell which one is narrowest.
ESTIMATE_CAP = 50_000
# Newest records a list may read in order before it sorts the matches instead; and the least
# it reads when it does.
SCAN_MAX = 50_000
SCAN_MIN = 1_000

Where = Mapping[str, Sequence[str]]


def marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


def encodable(value: str) -> bool:
    """Whether SQLite can hold the text (a lone surrogate cannot be UTF-8, so no stored value
    has one: such a value matches nothing rather than failing the query)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def visible_classes(db: sqlite3.Connection, kind: str, filters: Filters) -> list[int]:
    """The visibility classes of ``kind`` that the filters let the reader see."""
    if filters.kinds is not None and kind not in filters.kinds:
        return []
    return sorted(terms.visible_classes(db, Filters(scopes=filters.scopes, kinds=(kind,))) or {})


@dataclass(frozen=True)
class Scope:
    """What every statement of one query shares: the visible classes and the time range."""

    classes: Sequence[int]
    since: str | None = None
    until: str | None = None

    def during(self, alias: str) -> tuple[str, list[str]]:
        """The time range on ``alias.ts``: since inclusive, until exclusive. Timestamps are ISO
        8601 in UTC with milliseconds, so text order is time order; an item without one (NULL)
        is in no range."""
        sql, params = "", []
        if self.since is not None:
            sql, params = f"{sql} AND {alias}.ts >= ?", [*params, self.since]
        if self.until is not None:
            sql, params = f"{sql} AND {alias}.ts < ?", [*params, self.until]
        return sql, params


@dataclass(frozen=True)
class Matching:
    """The FROM and WHERE of the items a query matches (``sql``, with its ``params``) and the
    expression of each matching item's record id. ``r`` is the records row when joined."""

    sql: str
    params: tuple[Any, ...]
    record: str


def probes(where: Where, names: Sequence[str], column: str) -> tuple[str, list[Any]]:
    """One primary-key check per facet: the record ``column`` has one of the facet's values."""
    sql, params = "", []
    for i, name in enumerate(names):
        sql += (
            f" AND EXISTS (SELECT 1 FROM facets g{i} WHERE g{i}.record = {column} AND g{i}.name = ?"
            f" AND g{i}.value IN ({marks(where[name])}))"
        )
        params.extend([name, *where[name]])
    return sql, params


def matching(
    where: Where, order: Sequence[str], scope: Scope, *, with_records: bool = False, in_id_order: bool = False
) -> Matching:
    """The items of the scope's classes and time range that have one of the values of every
    facet in ``where``, read from the first facet of ``order`` (none: from the records, in id
    order when ``in_id_order`` and no time range narrows them, so that probes go forwards)."""
    if not order:
        scan = " NOT INDEXED" if in_id_order and scope.since is None and scope.until is None else ""
        sql, params = f"FROM records r{scan} WHERE r.class IN ({marks(scope.classes)})", list(scope.classes)
        during, bounds = scope.during("r")
        return Matching(sql + during, (*params, *bounds), "r.id")
    lead = order[0]
    join = " JOIN records r ON r.id = f.record" if with_records else ""
    sql = (
        f"FROM facets f{join} WHERE f.name = ? AND f.value IN ({marks(where[lead])})"
        f" AND f.class IN ({marks(scope.classes)})"
    )
    checks, checked = probes(where, order[1:], "f.record")
    during, bounds = scope.during("f")
    return Matching(sql + checks + during, (lead, *where[lead], *scope.classes, *checked, *bounds), "f.record")


def narrowest_first(db: sqlite3.Connection, where: Where, scope: Scope) -> tuple[list[str], int | None]:
    """The facets of ``where``, those matching the fewest items first (counted up to
    ESTIMATE_CAP each, in the time range), and the count of the first (None: not counted, as
    there is one facet or none)."""
    if len(where) < 2:
        return list(where), None
    during, bounds = scope.during("f")

    def estimate(name: str) -> int:
        sql = (
            f"SELECT count(*) FROM (SELECT 1 FROM facets f WHERE f.name = ? AND f.value IN ({marks(where[name])})"
            f" AND f.class IN ({marks(scope.classes)}){during} LIMIT ?)"
        )
        return int(db.execute(sql, [name, *where[name], *scope.classes, *bounds, ESTIMATE_CAP]).fetchone()[0])

    sizes = {name: estimate(name) for name in where}
    order = sorted(where, key=lambda name: (sizes[name], name))
    return order, sizes[order[0]]


def run(db: sqlite3.Connection, query: RecordQuery, filters: Filters) -> RecordResult:
    """Execute ``query`` over what the filters let the reader see (RecordQuerying.query_records)."""
    classes = visible_classes(db, query.kind, filters)
    where = {name: [v for v in values if encodable(v)] for name, values in query.where.items()}
    if not classes or not all(where.values()):
        return RecordResult(query=query, total=0)
    scope = Scope(
        classes,
        utc_timestamp(query.since) if query.since else None,
        utc_timestamp(query.until) if query.until else None,
    )
    order, lead = narrowest_first(db, where, scope)
    counted = matching(where, order, scope)
    total = int(db.execute(f"SELECT count(*) {counted.sql}", counted.params).fetchone()[0])
    if total == 0 or query.operation == "count":
        return RecordResult(query=query, total=total)
    if query.operation == "group":
        if not order and len(query.group_by) == 1:
            groups = _grouped_by_index(db, query.group_by[0], scope, total)
        else:
            groups = _grouped(db, matching(where, order, scope, in_id_order=True), query.group_by)
        return RecordResult(query=query, total=total, groups=groups)
    found = _newest(db, where, order, scope, (total, lead or total), query.limit)
    keys, documents = _first_chunks(db, found, query.kind, filters)
    return RecordResult(query=query, total=total, keys=keys, documents=documents)


def _newest(
    db: sqlite3.Connection, where: Where, order: Sequence[str], scope: Scope, sizes: tuple[int, int], limit: int
) -> list[tuple[str, int]]:
    """(item key, record id) of the first ``limit`` matching items, newest first, then by key;
    SQLite sorts NULL below any text, so items without a timestamp come last.

    ``sizes`` are the total and the items the sorting plan reads. The newest records are read
    in order, checked and left at ``limit`` matches when that should read fewer records: about
    ``limit`` / (total / records), four times over, at least SCAN_MIN, at most SCAN_MAX. If
    they hold fewer matches than wanted, the matches are sorted instead."""
    total, sorting_reads = sizes
    (records,) = db.execute("SELECT coalesce(max(id), 0) FROM records").fetchone()
    read = max(SCAN_MIN, 4 * limit * int(records) // total)
    if read <= SCAN_MAX and read < sorting_reads:
        during, bounds = scope.during("n")
        checks, checked = probes(where, order, "r.id")
        sql = (
            "SELECT r.item_key, r.id FROM (SELECT n.id, n.item_key, n.ts FROM records n INDEXED BY records_recent"
            f" WHERE n.class IN ({marks(scope.classes)}){during} ORDER BY n.ts DESC, n.item_key LIMIT ?) r"
            f" WHERE 1{checks} ORDER BY r.ts DESC, r.item_key LIMIT ?"
        )
        found = db.execute(sql, [*scope.classes, *bounds, read, *checked, limit]).fetchall()
        if len(found) == min(limit, total):
            return found
    match = matching(where, order, scope, with_records=True)
    sql = f"SELECT r.item_key, r.id {match.sql} ORDER BY r.ts DESC, r.item_key LIMIT ?"
    return db.execute(sql, [*match.params, limit]).fetchall()


def _first_chunks(
    db: sqlite3.Connection, found: Sequence[tuple[str, int]], kind: str, filters: Filters
) -> tuple[list[str], list[Document]]:
    """The listed items' keys and first chunks, in order; a chunk the filters would not let
    the reader see (which the query already ruled out) is left out with its key."""
    ids = [record for _, record in found]
    stored = db.execute(
        f"SELECT r.id, c.doc FROM records r JOIN chunks c ON c.id = r.chunk WHERE r.id IN ({marks(ids)})", ids
    )
    docs = {record: Document.model_validate_json(doc) for record, doc in stored}
    shown = [
        (key, docs[record])
        for key, record in found
        if record in docs and docs[record].kind == kind and allows(filters, docs[record])
    ]
    return [key for key, _ in shown], [doc for _, doc in shown]


def _ordered(counts: dict[str, Any]) -> dict[str, Any]:
    """Groups by value, the items lacking the facet last."""
    return dict(sorted(counts.items(), key=lambda kv: (kv[0] == NONE, kv[0])))


def _grouped(db: sqlite3.Connection, match: Matching, group_by: Sequence[str]) -> dict[str, Any]:
    """Counts of the matching items by the values of one or two facets (NONE where an item
    has no value), one primary-key probe per item and facet."""
    columns = ", ".join(f"coalesce(a{i}.value, ?)" for i in range(len(group_by)))
    joins = "".join(
        f" LEFT JOIN facets a{i} ON a{i}.record = m.id AND a{i}.name = ?" for i in range(len(group_by))
    )
    positions = ", ".join(str(i + 1) for i in range(len(group_by)))
    sql = f"SELECT {columns}, count(*) FROM (SELECT {match.record} AS id {match.sql}) m{joins} GROUP BY {positions}"
    rows = db.execute(sql, [*[NONE] * len(group_by), *match.params, *group_by]).fetchall()
    if len(group_by) == 1:
        return _ordered({value: int(n) for value, n in rows})
    nested: dict[str, dict[str, int]] = {}
    for first, second, n in rows:
        nested.setdefault(first, {})[second] = int(n)
    return _ordered({value: _ordered(inner) for value, inner in nested.items()})


def _grouped_by_index(db: sqlite3.Connection, facet: str, scope: Scope, total: int) -> dict[str, int]:
    """Counts by one facet with no facet filter, read in value order from ``facets_value``
    alone; the items without the facet are those of the total not counted there."""
    during, bounds = scope.during("f")
    sql = (
        f"SELECT f.value, count(*) FROM facets f WHERE f.name = ? AND f.class IN ({marks(scope.classes)})"
        f"{during} GROUP BY f.value"
    )
    counts = {value: int(n) for value, n in db.execute(sql, [facet, *scope.classes, *bounds])}
    missing = total - sum(counts.values())
    if missing:
        counts[NONE] = counts.get(NONE, 0) + missing
    return _ordered(counts)
