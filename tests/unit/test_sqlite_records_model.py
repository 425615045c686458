"""The embedded store's record queries against a model, and the move of a schema-2 file.

Property: after any writes and deletes, every record query, facet_values and facet_matches
answers exactly what a plain Python reading of the newest first chunks says, for any filters,
with both list plans (read newest first, or sort) and either facet taken first.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kotae.errors import StoreCorrupt
from kotae.models import Document, Filters
from kotae.providers.base import allows
from kotae.providers.sqlite_store import SQLiteStore, record_queries, schema
from kotae.records.query import RecordQuery
from tests.unit.test_sqlite_records import q, rec

FACETS = ["status", "task_name"]
VALUES = ["a", "b", "c"]
NONE = "(none)"
PROPERTY = settings(max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# -- the model ---------------------------------------------------------------------------------
# Few values, mostly visible records of one kind: enough matches that the list plans cut short.
values = st.sampled_from(VALUES[:2]) | st.sampled_from(VALUES)
items = st.fixed_dictionaries(
    {
        "facets": st.dictionaries(st.sampled_from(FACETS), values, max_size=2),
        "day": st.one_of(st.none(), st.integers(1, 6), st.integers(1, 6)),
        "scopes": st.sampled_from([["public"], ["public"], ["ops"], ["public", "ops"]]),
        "kind": st.sampled_from(["record", "record", "record", "faq"]),
        "chunks": st.integers(1, 2),
    }
)
KEYS = [f"k{i:02d}" for i in range(20)]
# Every key written once, then rewritten or deleted at random.
operations = st.tuples(
    st.lists(items, min_size=len(KEYS), max_size=len(KEYS)),
    st.lists(st.tuples(st.sampled_from(KEYS), st.one_of(st.none(), items)), max_size=15),
).map(lambda drawn: [*zip(KEYS, drawn[0], strict=True), *drawn[1]])
days = st.one_of(st.none(), st.none(), st.integers(1, 7))
readers = st.sampled_from(
    [Filters(), Filters(), Filters(scopes=("public",)), Filters(scopes=("public",)), Filters(scopes=("ops",)),
     Filters(scopes=()), Filters(kinds=("faq",))]
)


@st.composite
def queries(draw: st.DrawFn) -> RecordQuery:
    operation = draw(st.sampled_from(["count", "list", "latest", "group"]))
    since, until = draw(days), draw(days)
    if since is not None and until is not None and since >= until:
        until = None
    names = st.sampled_from([*FACETS, *FACETS, "region"])
    return RecordQuery(
        kind=draw(st.sampled_from(["record", "record", "record", "faq"])),
        operation=operation,
        where=draw(st.just({}) | st.dictionaries(names, st.lists(values, min_size=1, max_size=2), max_size=2)),
        since=None if since is None else datetime(2026, 1, since, tzinfo=UTC),
        until=None if until is None else datetime(2026, 1, until, tzinfo=UTC),
        group_by=draw(st.lists(names, min_size=1, max_size=2, unique=True)) if operation == "group" else [],
        limit=draw(st.integers(1, 4)),
    )


def chunks(key: str, item: dict[str, Any]) -> list[Document]:
    day = None if item["day"] is None else f"{item['day']:02d}"
    return [
        rec(key, i, ts=day, scopes=item["scopes"], kind=item["kind"], **item["facets"]) for i in range(item["chunks"])
    ]


def ordered(counts: dict[str, Any]) -> dict[str, Any]:
    return dict(sorted(counts.items(), key=lambda kv: (kv[0] == NONE, kv[0])))


def expected(firsts: dict[str, Document], query: RecordQuery, filters: Filters) -> dict[str, Any]:
    """What the query should answer, read from the first chunks of the items."""
    since = query.since and query.since.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    until = query.until and query.until.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    found = [
        d
        for d in sorted(firsts.values(), key=lambda d: d.item_key)
        if d.kind == query.kind
        and allows(filters, d)
        and all(d.facets.get(name) in values for name, values in query.where.items())
        and (since is None or (d.timestamp is not None and d.timestamp >= since))
        and (until is None or (d.timestamp is not None and d.timestamp < until))
    ]
    found.sort(key=lambda d: d.timestamp or "", reverse=True)  # stable: ties stay in key order
    keys = [d.item_key for d in found][: query.limit] if query.operation in ("list", "latest") else []
    groups: dict[str, Any] = {}
    if query.operation == "group" and found:
        counts = Counter(tuple(d.facets.get(g, NONE) for g in query.group_by) for d in found)
        if len(query.group_by) == 1:
            groups = ordered({k[0]: n for k, n in counts.items()})
        else:
            nested: dict[str, dict[str, int]] = {}
            for (first, second), n in counts.items():
                nested.setdefault(first, {})[second] = n
            groups = ordered({k: ordered(v) for k, v in nested.items()})
    return {"total": len(found), "keys": keys, "groups": groups}


@PROPERTY
@given(operations, st.lists(st.tuples(queries(), readers), min_size=3, max_size=10))
def test_record_queries_answer_what_the_newest_chunks_say(ops, asked) -> None:
    store = SQLiteStore(":memory:")
    firsts: dict[str, Document] = {}
    # Small bounds, so that both list plans and both estimates are taken on a few items.
    with mock.patch.object(record_queries, "SCAN_MIN", 1), mock.patch.object(record_queries, "ESTIMATE_CAP", 2):
        for key, item in ops:
            if item is None:
                store.delete(key)
                firsts.pop(key, None)
            else:
                docs = chunks(key, item)
                store.write(key, docs, {})
                firsts[key] = docs[0]
        for query, filters in asked:
            result = store.query_records(query, filters)
            got = {"total": result.total, "keys": result.keys, "groups": result.groups}
            assert got == expected(firsts, query, filters)
            assert list(got["groups"].items()) == list(expected(firsts, query, filters)["groups"].items())
            assert [d.chunk_id for d in result.documents] == [f"{k}#0000" for k in result.keys]
            visible = [d for d in firsts.values() if d.kind == query.kind and allows(filters, d)]
            for facet in FACETS:
                want = Counter(d.facets[facet] for d in visible if facet in d.facets)
                assert store.facet_values(query.kind, facet, filters) == dict(sorted(want.items()))
            matches = {v: sorted({n for d in visible for n, x in d.facets.items() if x == v}) for v in VALUES}
            assert store.facet_matches(query.kind, [*VALUES, "zz"], filters) == {v: n for v, n in matches.items() if n}
    store.close()


# -- the move from schema 2 ----------------------------------------------------------------------
V2_TABLES = {"meta", "chunks", "chunk_scopes", "items", "classes", "class_df"}


def _as_schema_2(path: Path) -> None:
    """Turn a closed store file back into schema 2: no record tables, version 2."""
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE records")
        db.execute("DROP TABLE facets")
        db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {t for t in tables if not t.startswith(("fts", "gram"))} == V2_TABLES


def test_a_schema_2_file_gets_its_records_from_the_stored_chunks(tmp_path: Path) -> None:
    # GIVEN a schema-2 file: chunks with facets, hidden ones, two chunks of one item, and chunks
    # written before documents carried facets or whose facets are not what a store writes
    path = tmp_path / "s.sqlite3"
    store = SQLiteStore(path)
    store.write("a", [rec("a", 1, ts="02", status="failed"), rec("a", 0, ts="02", status="failed")], {})
    store.write("b", [rec("b", ts="03", status="failed", scopes=["ops"])], {})
    for key in ("old", "text", "list", "mixed"):
        store.write(key, [rec(key, ts="01", status="failed")], {})
    store.delete("gone")
    store.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE chunks SET doc = json_remove(doc, '$.facets', '$.timestamp') WHERE item_key = 'old'")
        db.execute("UPDATE chunks SET doc = json_set(doc, '$.facets', '{oops', '$.timestamp', 5) WHERE item_key = 'text'")
        db.execute("UPDATE chunks SET doc = json_set(doc, '$.facets', json('[1]')) WHERE item_key = 'list'")
        db.execute(
            "UPDATE chunks SET doc = json_set(doc, '$.facets', json('{\"status\": 5, \"task_name\": \"x\"}')) "
            "WHERE item_key = 'mixed'"
        )
    _as_schema_2(path)
    # WHEN this kotae opens it (twice: the second finds the work done)
    SQLiteStore(path).close()
    again = SQLiteStore(path)
    # THEN every item with chunks is a record, with the facets its first chunk carries
    assert again.query_records(q("count"), Filters()).total == 6
    listed = again.query_records(q("list", where={"status": ["failed"]}), Filters(scopes=("public",)))
    assert (listed.total, listed.keys) == (1, ["a"])
    assert again.query_records(q("list", limit=2), Filters()).keys == ["b", "a"]
    assert again.query_records(q("count", since=datetime(2026, 1, 1, tzinfo=UTC)), Filters()).total == 4
    assert again.facet_values("record", "task_name", Filters()) == {"x": 1}
    assert again.query_records(q("group", group_by=["status"]), Filters()).groups == {"failed": 2, "(none)": 4}
    # AND an item ingested again gets its facets
    again.write("old", [rec("old", ts="01", status="failed")], {})
    assert again.query_records(q("count", where={"status": ["failed"]}), Filters()).total == 3
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (schema.SCHEMA_VERSION,)
    again.close()


def test_a_step_another_process_has_made_is_not_made_again(tmp_path: Path) -> None:
    # GIVEN a file already moved to the current schema by another process
    path = tmp_path / "s.sqlite3"
    SQLiteStore(path).close()
    db = sqlite3.connect(path, isolation_level=None)
    # WHEN this process, having read version 3, makes the step THEN nothing runs: it goes on at 4
    with mock.patch.dict(schema._MIGRATIONS, {"3": ("4", mock.Mock(side_effect=AssertionError))}):
        assert schema._migrate(db, "3") == "4" == schema.SCHEMA_VERSION
    db.close()


def test_a_failed_step_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = SQLiteStore(path)
    store.write("a", [rec("a", status="failed")], {})
    store.close()
    _as_schema_2(path)
    with sqlite3.connect(path) as db:  # a chunk whose visibility class went missing
        db.execute("UPDATE chunks SET class = NULL")
    with pytest.raises(StoreCorrupt, match="not a readable kotae store"):
        SQLiteStore(path)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("2",)
