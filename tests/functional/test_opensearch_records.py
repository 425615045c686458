"""OpenSearchStore record queries (RecordQuerying) against the OpenSearch stand-in: exact request
bodies, items counted once, scopes, time ranges, groups and their truncation, facet lookups, and
the upgrade of an index made before facets existed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from opensearchpy import OpenSearch, RequestsHttpConnection

from kotae.errors import IndexMismatch, StoreError
from kotae.models import Document, Filters
from kotae.providers import opensearch_records as records
from kotae.providers.base import RecordQuerying
from kotae.providers.opensearch_queries import chunk_source, index_body
from kotae.providers.opensearch_store import OpenSearchStore
from kotae.records.query import RecordQuery
from tests.fakes import make_doc
from tests.standins.opensearch import OpenSearchStandIn

ALIAS = "kotae-records"
PUBLIC = Filters(scopes=("public",), kinds=("record",))
VISIBLE = {"bool": {"filter": [{"terms": {"scopes": ["public"]}}, {"terms": {"kind": ["record"]}}]}}
NOT_DELETED = [{"term": {"deleted": True}}]
SORT = [{"timestamp": {"order": "desc", "missing": "_last"}}, {"item_key": {"order": "asc"}}]
EXCLUDES = {"excludes": ["vector", "tokens"]}


def client(url: str) -> OpenSearch:
    return OpenSearch(hosts=[url], connection_class=RequestsHttpConnection, max_retries=0, timeout=5)


def record(
    key: str, facets: dict[str, str], timestamp: str | None = None, *, chunks: int = 1, scopes=("public",), kind="record"
) -> list[Document]:
    """An item's chunks, each carrying the item's facets and timestamp (as the renderer makes them)."""
    return [
        make_doc(key, i, f"{key} part {i}", scopes=scopes, kind=kind).model_copy(
            update={"facets": facets, "timestamp": timestamp}
        )
        for i in range(chunks)
    ]


def put(store: OpenSearchStore, documents: list[Document]) -> None:
    store.write(documents[0].item_key, documents, {})


@pytest.fixture
def server() -> Iterator[OpenSearchStandIn]:
    with OpenSearchStandIn() as s:
        yield s


@pytest.fixture
def store(server: OpenSearchStandIn) -> Iterator[OpenSearchStore]:
    s = OpenSearchStore(client(server.url), ALIAS, 4, refresh=True)
    s.ensure_index()
    yield s
    s.close()


@pytest.fixture
def runs(store: OpenSearchStore) -> OpenSearchStore:
    """GIVEN five visible records of two executions (one of three chunks, one without a timestamp,
    one without a prompt version), a hidden one, a deleted one and an FAQ with a status facet."""
    put(store, record("r1", {"execution_id": "ex-1", "status": "failed", "prompt_version": "v2"},
                      "2026-11-01T10:00:00.000Z", chunks=3))
    put(store, record("r2", {"execution_id": "ex-1", "status": "succeeded", "prompt_version": "v2"},
                      "2026-11-01T11:00:00.000Z"))
    put(store, record("r3", {"execution_id": "ex-1", "status": "failed", "prompt_version": "v3"},
                      "2026-11-02T09:00:00.000Z", chunks=2))
    put(store, record("r4", {"execution_id": "ex-2", "status": "needs_review", "prompt_version": "v3"}))
    put(store, record("r5", {"execution_id": "ex-2", "status": "failed"}, "2026-11-03T00:00:00.000Z"))
    put(store, record("h1", {"execution_id": "ex-9", "status": "failed", "prompt_version": "v2"},
                      "2026-11-04T00:00:00.000Z", scopes=["hr"]))
    put(store, record("d1", {"execution_id": "ex-1", "status": "failed"}, "2026-11-05T00:00:00.000Z"))
    store.delete("d1")
    put(store, record("f1", {"status": "failed"}, "2026-11-06T00:00:00.000Z", kind="faq"))
    return store


def last_search(server: OpenSearchStandIn, back: int = 1) -> dict:
    return server.sent("/_search", "POST")[-back].json()


# -- query_records ----------------------------------------------------------------------------
def test_the_store_implements_record_querying(store: OpenSearchStore) -> None:
    assert isinstance(store, RecordQuerying)


def test_count_sends_one_exact_search_and_counts_items_once(runs: OpenSearchStore, server: OpenSearchStandIn):
    # WHEN failures of ex-1 are counted for a public asker
    before = len(server.requests)
    query = RecordQuery(operation="count", where={"status": ["failed"], "execution_id": ["ex-1"]}, limit=5)
    result = runs.query_records(query, PUBLIC)
    # THEN two items match (r1 of three chunks once; the hidden, deleted and FAQ items never)
    assert result.total == 2 and result.keys == [] and result.documents == [] and result.groups == {}
    # AND one size-0 search counted them: visibility, kind, first chunks, facet terms, an exact total
    (request,) = server.requests[before:]
    assert request.json() == {
        "size": 0,
        "track_total_hits": True,
        "query": {
            "bool": {
                "filter": [
                    *VISIBLE["bool"]["filter"],
                    {"term": {"kind": "record"}},
                    {"term": {"chunk_index": 0}},
                    {"terms": {"facets.execution_id": ["ex-1"]}},
                    {"terms": {"facets.status": ["failed"]}},
                ],
                "must_not": NOT_DELETED,
            }
        },
    }


def test_list_sends_the_sorted_first_chunks_and_serves_their_newest_writes(
    runs: OpenSearchStore, server: OpenSearchStandIn
) -> None:
    result = runs.query_records(RecordQuery(operation="list", where={"status": ["failed"]}, limit=5), PUBLIC)
    assert result.total == 3 and result.keys == ["r5", "r3", "r1"]
    assert [d.chunk_id for d in result.documents] == ["r5#0000", "r3#0000", "r1#0000"]
    listed, newest = (r.json() for r in server.sent("/_search", "POST")[-2:])
    assert listed == {
        "size": 5,
        "track_total_hits": True,
        "query": {
            "bool": {
                "filter": [
                    *VISIBLE["bool"]["filter"],
                    {"term": {"kind": "record"}},
                    {"term": {"chunk_index": 0}},
                    {"terms": {"facets.status": ["failed"]}},
                ],
                "must_not": NOT_DELETED,
            }
        },
        "sort": SORT,
        "_source": EXCLUDES,
    }
    assert newest["query"] == {"bool": {"filter": [{"terms": {"item_key": ["r1", "r3", "r5"]}}]}}


@pytest.mark.parametrize(
    ("operation", "limit", "keys"),
    [
        pytest.param("list", 10, ["r5", "r3", "r2", "r1", "r4"], id="list-newest-first-untimed-last"),
        pytest.param("list", 2, ["r5", "r3"], id="list-limited"),
        pytest.param("latest", 1, ["r5"], id="latest"),
    ],
)
def test_list_and_latest_order_newest_first(runs: OpenSearchStore, operation: str, limit: int, keys: list[str]):
    result = runs.query_records(RecordQuery(operation=operation, limit=limit), PUBLIC)  # type: ignore[arg-type]
    assert result.total == 5 and result.keys == keys
    assert [d.item_key for d in result.documents] == keys and all(d.chunk_index == 0 for d in result.documents)
    assert result.documents[0].facets["execution_id"] == "ex-2"


def test_items_with_the_same_time_are_ordered_by_key(store: OpenSearchStore) -> None:
    for key in ("b", "c", "a"):
        put(store, record(key, {"status": "failed"}, "2026-11-01T00:00:00.000Z"))
    put(store, record("z", {"status": "failed"}, "not a time"))  # ignored as malformed: sorts as missing
    result = store.query_records(RecordQuery(operation="list"), PUBLIC)
    assert result.keys == ["a", "b", "c", "z"]


@pytest.mark.parametrize(
    ("since", "until", "keys"),
    [
        pytest.param(datetime(2026, 11, 1, 11, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC), ["r3", "r2"],
                     id="since-inclusive-until-exclusive"),
        pytest.param(datetime(2026, 11, 2, tzinfo=UTC), None, ["r5", "r3"], id="since-only"),
        pytest.param(None, datetime(2026, 11, 1, 11, tzinfo=UTC), ["r1"], id="until-only"),
        pytest.param(datetime(2026, 11, 1, 10, 0, 0, 500, tzinfo=UTC), datetime(2026, 11, 1, 11, 0, 0, 1, tzinfo=UTC),
                     ["r2"], id="sub-millisecond-bounds-round-up"),
    ],
)
def test_time_ranges_are_a_range_on_the_date_field(
    runs: OpenSearchStore, server: OpenSearchStandIn, since, until, keys: list[str]
) -> None:
    result = runs.query_records(RecordQuery(operation="list", since=since, until=until), PUBLIC)
    assert result.keys == keys and result.total == len(keys)
    window = last_search(server, back=2 if keys else 1)["query"]["bool"]["filter"][-1]["range"]["timestamp"]
    assert set(window) == {name for name, bound in (("gte", since), ("lt", until)) if bound is not None}
    assert all(value.endswith("Z") and len(value) == 24 for value in window.values())


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        pytest.param(datetime(2026, 11, 1, 9, 30, tzinfo=UTC), "2026-11-01T09:30:00.000Z", id="whole"),
        pytest.param(datetime(2026, 11, 1, 9, 30, 0, 1, tzinfo=UTC), "2026-11-01T09:30:00.001Z", id="rounds-up"),
        pytest.param(datetime(2026, 11, 1, 9, 30, 0, 2000, tzinfo=UTC), "2026-11-01T09:30:00.002Z", id="millis"),
        pytest.param(datetime.fromisoformat("2026-11-01T18:30:00+09:00"), "2026-11-01T09:30:00.000Z", id="to-utc"),
    ],
)
def test_query_bounds_take_the_stored_form(moment: datetime, text: str) -> None:
    assert records.instant(moment) == text


def test_group_by_one_facet(runs: OpenSearchStore, server: OpenSearchStandIn) -> None:
    result = runs.query_records(RecordQuery(operation="group", group_by=["status"]), PUBLIC)
    assert result.groups == {"failed": 3, "needs_review": 1, "succeeded": 1}
    assert list(result.groups) == ["failed", "needs_review", "succeeded"]  # by value
    assert result.total == 5 and result.keys == []
    body = last_search(server)
    assert body["size"] == 0 and "sort" not in body
    aggs = body["aggs"]
    assert aggs == {"groups": {"terms": {"field": "facets.status", "size": 10_000, "missing": "(none)"}}}


def test_group_by_two_facets_puts_items_without_one_under_none(runs: OpenSearchStore, server: OpenSearchStandIn):
    query = RecordQuery(operation="group", group_by=["status", "prompt_version"], where={"execution_id": ["ex-1", "ex-2"]})
    result = runs.query_records(query, PUBLIC)
    assert result.groups == {
        "failed": {"(none)": 1, "v2": 1, "v3": 1},
        "needs_review": {"v3": 1},
        "succeeded": {"v2": 1},
    }
    assert last_search(server)["aggs"] == {
        "groups": {
            "terms": {"field": "facets.status", "size": 1_000, "missing": "(none)"},
            "aggs": {"then": {"terms": {"field": "facets.prompt_version", "size": 50, "missing": "(none)"}}},
        }
    }


def test_group_buckets_past_the_size_are_reported_as_other(
    runs: OpenSearchStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN group sizes smaller than the facets' cardinality
    monkeypatch.setitem(records.GROUP_SIZES, 1, (2,))
    monkeypatch.setitem(records.GROUP_SIZES, 2, (1, 1))
    # WHEN grouped by one facet, then by two
    one = runs.query_records(RecordQuery(operation="group", group_by=["status"]), PUBLIC)
    two = runs.query_records(RecordQuery(operation="group", group_by=["status", "prompt_version"]), PUBLIC)
    # THEN the left-out buckets' items are counted under "(other)", so every item is still counted
    assert one.groups == {"failed": 3, "needs_review": 1, "(other)": 1}
    assert two.groups == {"failed": {"(none)": 1, "(other)": 2}, "(other)": {"(other)": 2}}
    assert list(one.groups) == ["failed", "needs_review", "(other)"]


def test_grouping_counts_the_two_facets_bounds_below_max_buckets() -> None:
    # search.max_buckets defaults to 65,535: the documented bound every group response stays under.
    (single,), (outer, inner) = records.GROUP_SIZES[1], records.GROUP_SIZES[2]
    assert single <= 65_535 and outer * inner + outer <= 65_535


@pytest.mark.parametrize(
    ("filters", "total", "groups"),
    [
        pytest.param(Filters(scopes=("hr",), kinds=("record",)), 1, {"failed": 1}, id="hr-sees-its-own-only"),
        pytest.param(Filters(scopes=(), kinds=("record",)), 0, {}, id="no-scopes-sees-nothing"),
        pytest.param(Filters(scopes=("public", "hr")), 6, {"failed": 4, "needs_review": 1, "succeeded": 1},
                     id="both-scopes"),
    ],
)
def test_scopes_apply_to_every_count(runs: OpenSearchStore, filters: Filters, total: int, groups: dict) -> None:
    result = runs.query_records(RecordQuery(operation="group", group_by=["status"]), filters)
    assert (result.total, result.groups) == (total, groups)
    listed = runs.query_records(RecordQuery(operation="list", limit=100), filters)
    assert listed.total == total and len(listed.keys) == total
    assert ("h1" in listed.keys) is ("hr" in (filters.scopes or ()))


def test_a_listed_record_is_its_newest_write(runs: OpenSearchStore, server: OpenSearchStandIn) -> None:
    # GIVEN an old copy of r5's first chunk whose deletion has not landed, from before it failed
    current = next(d for d in server.docs(ALIAS).values() if d["chunk_id"] == "r5#0000")
    old = {**current, "write": "0" * 20, "facets": {"execution_id": "ex-2", "status": "failed"}, "text": "old"}
    server.docs(ALIAS)["stale-copy"] = old
    # WHEN the failures are listed
    result = runs.query_records(RecordQuery(operation="list", where={"status": ["failed"]}), PUBLIC)
    # THEN r5 is listed once, as its newest write
    assert result.keys == ["r5", "r3", "r1"] and result.documents[0].text == "r5 part 0"


def test_serverless_ids_count_a_rewritten_item_once() -> None:
    with OpenSearchStandIn(generated_ids=True) as server:
        store = OpenSearchStore(client(server.url), ALIAS, 4, custom_ids=False)
        store.ensure_index()
        # GIVEN an item written twice (new documents first, then the old ones deleted by id)
        put(store, record("a", {"status": "failed"}, "2026-11-01T00:00:00.000Z", chunks=2))
        store.write("a", record("a", {"status": "succeeded"}, "2026-11-02T00:00:00.000Z"), {}, version="2")
        # THEN it counts once, under its new status
        grouped = store.query_records(RecordQuery(operation="group", group_by=["status"]), PUBLIC)
        assert (grouped.total, grouped.groups) == (1, {"succeeded": 1})
        listed = store.query_records(RecordQuery(operation="latest", limit=1), PUBLIC)
        assert listed.keys == ["a"] and listed.documents[0].timestamp == "2026-11-02T00:00:00.000Z"


def test_a_record_query_failure_is_a_store_error(runs: OpenSearchStore, server: OpenSearchStandIn) -> None:
    server.fail(path="/_search", status=503)
    with pytest.raises(StoreError, match="record query: OpenSearch answered 503"):
        runs.query_records(RecordQuery(operation="count"), PUBLIC)


# -- facet lookups ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("facet", "prefix", "limit", "filters", "values"),
    [
        pytest.param("execution_id", "", 1000, PUBLIC, {"ex-1": 3, "ex-2": 2}, id="all-values-with-item-counts"),
        pytest.param("execution_id", "ex-2", 1000, PUBLIC, {"ex-2": 2}, id="prefix"),
        pytest.param("execution_id", "EX-", 1000, PUBLIC, {}, id="prefix-is-case-sensitive"),
        pytest.param("execution_id", "ex.*", 1000, PUBLIC, {}, id="prefix-is-literal"),
        pytest.param("execution_id", "", 1, PUBLIC, {"ex-1": 3}, id="limit-keeps-the-first-values"),
        pytest.param("execution_id", "", 1000, Filters(scopes=("hr",)), {"ex-9": 1}, id="scoped"),
        pytest.param("prompt_version", "", 1000, PUBLIC, {"v2": 2, "v3": 2}, id="items-without-it-left-out"),
        pytest.param("status", "", 1000, Filters(scopes=("public",)), {"failed": 3, "needs_review": 1,
                     "succeeded": 1}, id="only-the-kind-asked"),
    ],
)
def test_facet_values(runs: OpenSearchStore, facet, prefix, limit, filters, values) -> None:
    found = runs.facet_values("record", facet, filters, prefix=prefix, limit=limit)
    assert found == values and list(found) == sorted(values)


def test_facet_values_body_is_a_prefix_filter_and_a_terms_aggregation_by_key(
    runs: OpenSearchStore, server: OpenSearchStandIn
) -> None:
    runs.facet_values("record", "execution_id", PUBLIC, prefix="ex-", limit=20)
    assert last_search(server) == {
        "size": 0,
        "track_total_hits": False,
        "query": {
            "bool": {
                "filter": [
                    *VISIBLE["bool"]["filter"],
                    {"term": {"kind": "record"}},
                    {"term": {"chunk_index": 0}},
                    {"prefix": {"facets.execution_id": {"value": "ex-"}}},
                ],
                "must_not": NOT_DELETED,
            }
        },
        "aggs": {"values": {"terms": {"field": "facets.execution_id", "size": 20, "order": {"_key": "asc"}}}},
    }
    before = len(server.requests)
    assert runs.facet_values("record", "execution_id", PUBLIC, limit=0) == {}
    assert len(server.requests) == before


def test_facet_matches_names_the_facets_of_each_visible_value(runs: OpenSearchStore, server: OpenSearchStandIn):
    # GIVEN a value that is both a task name and a status
    put(runs, record("r6", {"execution_id": "ex-2", "status": "failed", "task_name": "failed"}))
    # WHEN values are matched, one hidden and one unknown among them
    found = runs.facet_matches("record", ["ex-1", "failed", "v3", "ex-9", "nope", "ex-1"], PUBLIC)
    # THEN each visible value has its facets, sorted; the others are left out
    assert found == {"ex-1": ["execution_id"], "failed": ["status", "task_name"], "v3": ["prompt_version"]}
    body = last_search(server)
    facets = ["execution_id", "prompt_version", "status", "task_name"]
    assert body["query"]["bool"]["should"] == [
        {"terms": {f"facets.{f}": ["ex-1", "failed", "v3", "ex-9", "nope"]}} for f in facets
    ]
    assert body["query"]["bool"]["minimum_should_match"] == 1 and body["size"] == 0
    assert body["aggs"]["f3"] == {
        "terms": {"field": "facets.task_name", "include": ["ex-1", "failed", "v3", "ex-9", "nope"], "size": 5}
    }
    assert runs.facet_matches("record", ["ex-9"], Filters(scopes=("hr",), kinds=("record",))) == {
        "ex-9": ["execution_id"]
    }


def test_facet_matches_without_values_or_facets_sends_no_search(store: OpenSearchStore, server: OpenSearchStandIn):
    before = len(server.requests)
    assert store.facet_matches("record", [], PUBLIC) == {}
    assert len(server.requests) == before
    assert store.facet_matches("record", ["ex-1"], PUBLIC) == {}  # no facet is mapped yet
    assert [r.path for r in server.requests[before:]] == [f"/{ALIAS}/_mapping"]


# -- mapping and upgrade ----------------------------------------------------------------------
def test_facets_map_as_keywords_through_the_dynamic_template(store: OpenSearchStore, server: OpenSearchStandIn):
    # GIVEN a facet value that looks like a date, then one that does not
    put(store, record("a", {"execution_id": "2026-11-01"}, "2026-11-01T00:00:00.000Z"))
    put(store, record("b", {"execution_id": "ex-3"}))
    # THEN the facet is a keyword (date detection never ran: the template matches every type)
    mapping = store.client.indices.get_mapping(index=ALIAS)[f"{ALIAS}-v1"]["mappings"]
    assert mapping["properties"]["facets"]["properties"] == {"execution_id": {"type": "keyword"}}
    assert mapping["properties"]["timestamp"] == {"type": "date", "ignore_malformed": True}
    assert store.facet_values("record", "execution_id", PUBLIC) == {"2026-11-01": 1, "ex-3": 1}


def old_index(server: OpenSearchStandIn, **mappings: object) -> OpenSearchStore:
    """An index created by a kotae that had no facets, timestamp or dynamic template."""
    body = index_body(4)
    for name in ("facets", "timestamp"):
        del body["mappings"]["properties"][name]
    del body["mappings"]["dynamic_templates"]
    body["mappings"].update(mappings)
    store = OpenSearchStore(client(server.url), ALIAS, 4, refresh=True)
    store.client.indices.create(index=f"{ALIAS}-v1", body=body)
    store.swap_alias(f"{ALIAS}-v1")
    return store


def test_ensure_index_gives_an_older_index_the_facet_mappings(server: OpenSearchStandIn) -> None:
    # GIVEN an index from before facets, holding a record (strict: a document with facets is refused)
    store = old_index(server)
    source = chunk_source(make_doc("old", kind="record"), None, None, "0" * 20)
    del source["facets"], source["timestamp"]
    assert not store.client.bulk(body=[{"index": {"_id": "old#0000"}}, source], index=ALIAS)["errors"]
    with pytest.raises(StoreError, match="strict_dynamic_mapping_exception"):
        put(store, record("r1", {"status": "failed"}, "2026-11-01T00:00:00.000Z"))
    # WHEN the index is ensured
    assert store.ensure_index() == f"{ALIAS}-v1"
    # THEN one put-mapping request added the fields and the template
    (update,) = server.sent(f"/{ALIAS}-v1/_mapping", "PUT")
    assert update.json() == {
        "properties": {
            "facets": {"type": "object", "dynamic": True},
            "timestamp": {"type": "date", "ignore_malformed": True},
        },
        "dynamic_templates": [{"kotae_facets": {"path_match": "facets.*", "mapping": {"type": "keyword"}}}],
    }
    # AND records are written and counted (the one written before has no facets until reindexed)
    put(store, record("r1", {"status": "failed"}, "2026-11-01T00:00:00.000Z"))
    assert store.query_records(RecordQuery(operation="group", group_by=["status"]), Filters()).groups == {
        "failed": 1,
        "(none)": 1,
    }
    # AND an index already up to date is left alone
    store.ensure_index()
    assert len(server.sent("/_mapping", "PUT")) == 1


def test_ensure_index_keeps_the_dynamic_templates_an_index_has(server: OpenSearchStandIn) -> None:
    theirs = {"ids": {"match": "*_id", "mapping": {"type": "keyword"}}}
    store = old_index(server, dynamic_templates=[theirs])
    store.ensure_index()
    (update,) = server.sent(f"/{ALIAS}-v1/_mapping", "PUT")
    assert [next(iter(t)) for t in update.json()["dynamic_templates"]] == ["ids", "kotae_facets"]


def test_ensure_index_refuses_a_field_mapped_with_another_type(server: OpenSearchStandIn) -> None:
    # GIVEN an index where "timestamp" is a keyword (a date field cannot be made of it in place)
    body = index_body(4)
    body["mappings"]["properties"]["timestamp"] = {"type": "keyword"}
    store = OpenSearchStore(client(server.url), ALIAS, 4)
    store.client.indices.create(index=f"{ALIAS}-v1", body=body)
    store.swap_alias(f"{ALIAS}-v1")
    # WHEN it is ensured, THEN the operator is told to reindex, and nothing is changed
    with pytest.raises(IndexMismatch, match=r"maps 'timestamp' as keyword, this kotae as date; run `kotae reindex`"):
        store.ensure_index()
    assert server.sent("/_mapping", "PUT") == []


def test_a_mapping_read_failure_is_a_store_error(runs: OpenSearchStore, server: OpenSearchStandIn) -> None:
    server.fail(path="/_mapping", status=500, kind="internal_server_error")
    with pytest.raises(StoreError, match="read mapping: OpenSearch answered 500"):
        runs.facet_matches("record", ["ex-1"], PUBLIC)
