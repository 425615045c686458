"""The embedded store's record facets and typed record query (RecordQuerying), by example.

The same contract as a property over random stores and queries, and the move from schema 2,
are in test_sqlite_records_model.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kotae.models import Document, Filters
from kotae.providers.base import RecordQuerying
from kotae.providers.sqlite_store import SQLiteStore, record_queries
from kotae.providers.sqlite_store.facet_lookups import prefix_end
from kotae.records.query import RecordQuery

PUBLIC = Filters(scopes=("public",))


def rec(
    key: str,
    index: int = 0,
    *,
    ts: str | None = None,
    scopes: Sequence[str] = ("public",),
    kind: str = "record",
    **facets: str,
) -> Document:
    """A chunk of a record with these facets and timestamp (day ``ts`` of January 2026)."""
    return Document(
        chunk_id=f"{key}#{index:04d}",
        item_key=key,
        kind=kind,
        title=key,
        text=f"{key} part {index}",
        chunk_index=index,
        scopes=list(scopes),
        content_hash=f"{key}-{index}",
        facets=facets,
        timestamp=None if ts is None else f"2026-01-{ts}T00:00:00.000Z",
    )


def put(store: SQLiteStore, *docs: Document, version: str | None = None) -> bool:
    return store.write(docs[0].item_key, list(docs), {}, version=version)


def q(operation: str = "count", **fields: Any) -> RecordQuery:
    return RecordQuery(operation=operation, **fields)


def day(n: int) -> datetime:
    return datetime(2026, 1, n, tzinfo=UTC)


@pytest.fixture
def runs(store: SQLiteStore) -> SQLiteStore:
    """Six records over two executions, one hidden from `public`, one without a timestamp, and
    an FAQ entry (another kind)."""
    put(store, rec("r1", ts="01", execution_id="ex1", status="failed", task_name="parse"))
    put(store, rec("r2", ts="02", execution_id="ex1", status="succeeded", task_name="parse"))
    put(store, rec("r3", ts="03", execution_id="ex1", status="failed", task_name="load"))
    put(store, rec("r4", ts="03", execution_id="ex2", status="needs_review"))
    put(store, rec("r5", execution_id="ex2", status="failed", task_name="load"))
    put(store, rec("r6", ts="04", scopes=["ops"], execution_id="ex2", status="failed", task_name="load"))
    put(store, rec("f1", kind="faq"))
    return store


def test_the_store_offers_record_queries(store: SQLiteStore) -> None:
    assert isinstance(store, RecordQuerying)


def test_count_list_and_latest_order_newest_first_then_by_key_undated_last(runs: SQLiteStore) -> None:
    # WHEN the failed records are counted, listed and the latest one asked for, as `public`
    failed = {"status": ["failed"]}
    counted = runs.query_records(q("count", where=failed), PUBLIC)
    listed = runs.query_records(q("list", where=failed), PUBLIC)
    latest = runs.query_records(q("latest", where=failed, limit=1), PUBLIC)
    # THEN r6 (hidden) is nowhere, r5 (no timestamp) comes last, and count lists nothing
    assert (counted.total, counted.keys, counted.documents) == (3, [], [])
    assert (listed.total, listed.keys) == (3, ["r3", "r1", "r5"])
    assert [d.chunk_id for d in listed.documents] == ["r3#0000", "r1#0000", "r5#0000"]
    assert (latest.total, latest.keys) == (3, ["r3"])
    # AND ties on the timestamp are ordered by key; the limit cuts the list, not the total
    tied = runs.query_records(q("list", limit=2), PUBLIC)
    assert (tied.total, tied.keys) == (5, ["r3", "r4"])
    # AND the caller's fields are left to the caller
    assert (listed.unknown, listed.unfiltered, listed.groups) == ({}, False, {})


@pytest.mark.parametrize(
    ("where", "total"),
    [
        pytest.param({"status": ["failed"]}, 3, id="one-value"),
        pytest.param({"status": ["failed", "needs_review"]}, 4, id="or-within-a-facet"),
        pytest.param({"status": ["failed"], "execution_id": ["ex1"]}, 2, id="and-across-facets"),
        pytest.param({"status": ["failed"], "execution_id": ["ex1"], "task_name": ["load"]}, 1, id="three-facets"),
        pytest.param({"status": ["failed", "succeeded"], "task_name": ["parse", "load"]}, 4, id="or-and-and"),
        pytest.param({"task_name": ["load"], "execution_id": ["ex2"]}, 1, id="hidden-one-left-out"),
        pytest.param({"status": ["failed"], "execution_id": ["ex9"]}, 0, id="a-value-nobody-has"),
        pytest.param({"region": ["eu"]}, 0, id="a-facet-no-item-has"),
        pytest.param({"status": ["failed' OR 1=1 --"]}, 0, id="sql-in-a-value-is-a-value"),
        pytest.param({"status": ["\ud800"]}, 0, id="a-lone-surrogate-matches-nothing"),
        pytest.param({"status": ["failed", "\udfff"]}, 3, id="a-lone-surrogate-among-values"),
    ],
)
def test_where_is_or_within_a_facet_and_across_facets(runs: SQLiteStore, where: dict, total: int) -> None:
    result = runs.query_records(q("list", where=where), PUBLIC)
    assert result.total == total == len(result.keys)


@pytest.mark.parametrize(
    ("since", "until", "keys"),
    [
        pytest.param(day(2), None, ["r3", "r4", "r2"], id="since-is-inclusive"),
        pytest.param(None, day(3), ["r2", "r1"], id="until-is-exclusive"),
        pytest.param(day(2), day(3), ["r2"], id="both"),
        pytest.param(day(5), None, [], id="after-everything"),
        pytest.param(datetime(2026, 1, 2, 9, 0), None, ["r3", "r4"], id="naive-is-utc"),
    ],
)
def test_time_ranges_leave_out_undated_items(runs: SQLiteStore, since, until, keys) -> None:
    result = runs.query_records(q("list", since=since, until=until), PUBLIC)
    assert (result.total, result.keys) == (len(keys), keys)
    # AND the same range with a facet filter agrees
    failed = runs.query_records(q("count", where={"status": ["failed"]}, since=since, until=until), PUBLIC)
    assert failed.total == len([k for k in keys if k in ("r1", "r3")])


def test_group_by_one_or_two_facets_puts_items_lacking_one_under_none(runs: SQLiteStore) -> None:
    by_status = runs.query_records(q("group", group_by=["status"]), PUBLIC)
    assert by_status.groups == {"failed": 3, "needs_review": 1, "succeeded": 1} and by_status.total == 5
    by_task = runs.query_records(q("group", group_by=["task_name"]), PUBLIC)
    assert list(by_task.groups.items()) == [("load", 2), ("parse", 2), ("(none)", 1)]
    both = runs.query_records(q("group", group_by=["task_name", "status"]), PUBLIC)
    assert both.groups == {
        "load": {"failed": 2},
        "parse": {"failed": 1, "succeeded": 1},
        "(none)": {"needs_review": 1},
    }
    # AND with filters and a time range
    narrowed = runs.query_records(
        q("group", where={"execution_id": ["ex1"]}, since=day(2), group_by=["status", "task_name"]), PUBLIC
    )
    assert (narrowed.total, narrowed.groups) == (2, {"failed": {"load": 1}, "succeeded": {"parse": 1}})
    troubled = runs.query_records(
        q("group", where={"status": ["failed", "needs_review"]}, group_by=["task_name"]), PUBLIC
    )
    assert list(troubled.groups.items()) == [("load", 2), ("parse", 1), ("(none)", 1)]
    dated = runs.query_records(q("group", until=day(3), group_by=["status"]), PUBLIC)
    assert dated.groups == {"failed": 1, "succeeded": 1}
    # AND a facet nobody has groups everything under none; nothing matching, no groups
    nobody = runs.query_records(q("group", group_by=["region"]), PUBLIC)
    assert nobody.groups == {"(none)": 5}
    empty = runs.query_records(q("group", where={"status": ["lost"]}, group_by=["status"]), PUBLIC)
    assert (empty.total, empty.groups) == (0, {})


@pytest.mark.parametrize(
    ("filters", "total", "values"),
    [
        pytest.param(Filters(), 6, {"ex1": 3, "ex2": 3}, id="no-filters-see-everything"),
        pytest.param(PUBLIC, 5, {"ex1": 3, "ex2": 2}, id="public"),
        pytest.param(Filters(scopes=("ops",)), 1, {"ex2": 1}, id="ops"),
        pytest.param(Filters(scopes=("ops", "public")), 6, {"ex1": 3, "ex2": 3}, id="either"),
        pytest.param(Filters(scopes=()), 0, {}, id="no-scopes-see-nothing"),
        pytest.param(Filters(scopes=("hr",)), 0, {}, id="a-scope-nobody-has"),
        pytest.param(Filters(kinds=("faq",)), 0, {}, id="another-kind-only"),
        pytest.param(Filters(scopes=("ops",), kinds=("record", "faq")), 1, {"ex2": 1}, id="kinds-and-scopes"),
    ],
)
def test_scopes_and_kinds_apply_to_every_operation(
    runs: SQLiteStore, filters: Filters, total: int, values: dict[str, int]
) -> None:
    assert runs.query_records(q("count"), filters).total == total
    listed = runs.query_records(q("list", limit=100), filters)
    assert len(listed.keys) == len(listed.documents) == total
    assert all(set(d.scopes) & set(filters.scopes or d.scopes) for d in listed.documents)
    grouped = runs.query_records(q("group", group_by=["execution_id"]), filters)
    assert grouped.groups == values
    assert runs.facet_values("record", "execution_id", filters) == values
    matches = runs.facet_matches("record", ["ex1", "ex2", "ops"], filters)
    assert matches == {value: ["execution_id"] for value in values}


def test_the_query_kind_decides_which_items_count(runs: SQLiteStore) -> None:
    assert runs.query_records(q("count", kind="faq"), PUBLIC).total == 1
    assert runs.query_records(q("list", kind="faq"), PUBLIC).keys == ["f1"]
    assert runs.query_records(q("count", kind="note"), Filters()).total == 0
    assert runs.facet_values("faq", "execution_id", Filters()) == {}


def test_an_item_of_several_chunks_counts_once_and_cites_its_first(store: SQLiteStore) -> None:
    # GIVEN an item of three chunks, written last chunk first
    parts = [rec("m", i, ts="01", status="failed") for i in (2, 0, 1)]
    put(store, *parts)
    put(store, rec("s", ts="02", status="failed"))
    # THEN it is one item everywhere, cited by its first chunk
    listed = store.query_records(q("list"), Filters())
    assert (listed.total, listed.keys) == (2, ["s", "m"])
    assert [d.chunk_id for d in listed.documents] == ["s#0000", "m#0000"]
    assert store.query_records(q("group", group_by=["status"]), Filters()).groups == {"failed": 2}
    assert store.facet_values("record", "status", Filters()) == {"failed": 2}
    # AND when it shrinks to one chunk it is still one item
    put(store, rec("m", 0, ts="01", status="failed"))
    assert store.query_records(q("count", where={"status": ["failed"]}), Filters()).total == 2


def test_rewrites_and_deletes_keep_the_facets_in_step(store: SQLiteStore) -> None:
    put(store, rec("a", ts="01", status="failed", task_name="parse"))
    put(store, rec("b", ts="02", status="failed"))
    failed = q("count", where={"status": ["failed"]})
    assert store.query_records(failed, PUBLIC).total == 2
    # WHEN a is rewritten as succeeded, without a task, later, and hidden from public
    put(store, rec("a", ts="05", scopes=["ops"], status="succeeded"))
    # THEN its old facets count nowhere and its new ones only for ops
    assert store.query_records(failed, PUBLIC).total == 1
    assert store.facet_values("record", "task_name", Filters()) == {}
    assert store.query_records(q("list"), Filters(scopes=("ops",))).keys == ["a"]
    assert store.query_records(q("list"), PUBLIC).keys == ["b"]
    # WHEN b is deleted, and a rewritten with no chunks at all
    assert store.delete("b")
    store.write("a", [], {})
    # THEN nothing is counted, listed, grouped or offered
    assert store.query_records(q("count"), Filters()).total == 0
    assert store.query_records(q("group", group_by=["status"]), Filters()).groups == {}
    assert store.facet_matches("record", ["failed", "succeeded"], Filters()) == {}
    # AND an item written again after its delete counts again
    put(store, rec("b", ts="03", status="failed"))
    assert store.query_records(failed, Filters()).total == 1


def test_stale_writes_and_deletes_leave_the_facets_alone(store: SQLiteStore) -> None:
    assert put(store, rec("a", ts="02", status="failed"), version="5")
    # WHEN an older version is written, deleted, or only its version moved on
    assert not put(store, rec("a", ts="09", status="succeeded"), version="3")
    assert not store.delete("a", version="4")
    assert store.advance_version("a", "6")
    assert not store.advance_version("a", "1")
    # THEN the item still has the facets of version 5
    listed = store.query_records(q("list", where={"status": ["failed"]}), Filters())
    assert listed.keys == ["a"] and listed.documents[0].timestamp == "2026-01-02T00:00:00.000Z"
    assert listed.documents[0].version == "6"
    assert store.facet_values("record", "status", Filters()) == {"failed": 1}


def test_a_reader_in_another_process_sees_facet_changes_at_its_next_read(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    writer, reader = SQLiteStore(path), SQLiteStore(path)
    put(writer, rec("a", status="failed"))
    assert reader.query_records(q("count", where={"status": ["failed"]}), Filters()).total == 1
    put(writer, rec("a", status="succeeded"))
    assert reader.query_records(q("count", where={"status": ["failed"]}), Filters()).total == 0
    assert reader.facet_values("record", "status", Filters()) == {"succeeded": 1}
    writer.close()
    reader.close()


def test_reindex_carries_the_records_of_the_fresh_file(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite3")
    put(store, rec("old", status="failed"))

    def fill(fresh: Any) -> None:
        put(fresh, rec("new", ts="01", status="succeeded"))

    store.reindex(3, fill)
    assert store.query_records(q("list"), Filters()).keys == ["new"]
    assert store.facet_values("record", "status", Filters()) == {"succeeded": 1}
    store.close()


def test_facet_values_by_prefix_in_value_order_up_to_the_limit(store: SQLiteStore) -> None:
    for i, ex in enumerate(["ex-10", "ex-11", "ex-11", "ex-2", "EX-3", "ey-1", "ex-\U0010ffff"]):
        put(store, rec(f"r{i}", execution_id=ex))
    values = store.facet_values
    assert values("record", "execution_id", Filters(), prefix="ex-1") == {"ex-10": 1, "ex-11": 2}
    assert list(values("record", "execution_id", Filters(), prefix="ex-")) == ["ex-10", "ex-11", "ex-2", "ex-\U0010ffff"]
    assert values("record", "execution_id", Filters(), prefix="ex-", limit=2) == {"ex-10": 1, "ex-11": 2}
    assert values("record", "execution_id", Filters(), prefix="ex-\U0010ffff") == {"ex-\U0010ffff": 1}
    assert len(values("record", "execution_id", Filters())) == 6
    assert values("record", "execution_id", Filters(), limit=0) == {}
    assert values("record", "execution_id", Filters(), prefix="\ud800") == {}
    assert values("record", "\ud800", Filters()) == {}
    assert values("record", "status", Filters()) == {}


@pytest.mark.parametrize(
    ("prefix", "end"),
    [
        pytest.param("", None, id="empty-has-no-end"),
        pytest.param("ab", "ac", id="next-letter"),
        pytest.param("a\U0010ffff", "b", id="last-code-point-carries"),
        pytest.param("\U0010ffff\U0010ffff", None, id="all-last-code-points"),
        pytest.param("a\ud7ff", "a\ue000", id="skips-the-surrogates"),
    ],
)
def test_prefix_end_is_the_least_text_above_the_prefix(prefix: str, end: str | None) -> None:
    assert prefix_end(prefix) == end


def test_facet_matches_names_every_facet_a_value_belongs_to(store: SQLiteStore) -> None:
    put(store, rec("a", prompt_version="v1", task_name="v1", status="failed"))
    put(store, rec("b", scopes=["ops"], status="secret"))
    asked = ["v1", "failed", "secret", "nothing", "", "\ud800", *[f"w{i}" for i in range(1200)]]
    assert store.facet_matches("record", asked, PUBLIC) == {"failed": ["status"], "v1": ["prompt_version", "task_name"]}
    assert store.facet_matches("record", [], PUBLIC) == {}
    assert store.facet_matches("faq", ["v1"], Filters()) == {}


def test_a_listed_chunk_that_does_not_say_it_is_visible_is_left_out(tmp_path: Path) -> None:
    # GIVEN a file whose stored chunk says another scope (or kind) than its visibility class
    path = tmp_path / "s.sqlite3"
    store = SQLiteStore(path)
    put(store, rec("a", ts="01", status="failed"))
    put(store, rec("b", ts="02", status="failed"))
    put(store, rec("c", ts="03", status="failed"))
    with sqlite3.connect(path) as db:
        db.execute("UPDATE chunks SET doc = json_set(doc, '$.scopes', json('[\"ops\"]')) WHERE chunk_id = 'b#0000'")
        db.execute("UPDATE chunks SET doc = json_set(doc, '$.kind', 'faq') WHERE chunk_id = 'c#0000'")
    # WHEN public lists the records THEN the document's own word wins: b and c are not shown
    listed = store.query_records(q("list"), PUBLIC)
    assert (listed.keys, [d.item_key for d in listed.documents]) == (["a"], ["a"])
    store.close()


def test_a_list_whose_matches_are_old_falls_back_to_sorting(store: SQLiteStore, monkeypatch) -> None:
    # GIVEN 30 old failed records and one new one among 40 newer succeeded ones, and lists that
    # read as few records in time order as the totals suggest
    monkeypatch.setattr(record_queries, "SCAN_MIN", 1)
    for i in range(30):
        put(store, rec(f"f{i:02d}", ts=f"{i % 27 + 1:02d}", status="failed"))
    for i in range(40):
        put(store, rec(f"s{i:02d}", ts="28", status="succeeded"))
    put(store, rec("new", ts="29", status="failed"))
    # WHEN the two newest failed ones are asked for THEN the 18 newest records read hold only
    # one, and sorting the failed ones finds both
    assert store.query_records(q("list", where={"status": ["failed"]}, limit=2), Filters()).keys == ["new", "f26"]
    # AND a list the newest records do hold is read from them
    newest = store.query_records(q("list", where={"status": ["succeeded"]}, limit=3), Filters())
    assert newest.keys == ["s00", "s01", "s02"]
    # AND the same with two facets, the narrowest counted first
    both = q("list", where={"status": ["failed"], "task_name": ["x"]})
    assert store.query_records(both, Filters()).total == 0
