"""One record query, two stores: the sample records indexed the same way into the embedded store
and into OpenSearch (the stand-in) give the same totals, keys, groups and facet lookups."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from opensearchpy import OpenSearch, RequestsHttpConnection

from kotae.indexing.indexer import Indexer
from kotae.indexing.loader import read_items
from kotae.indexing.render import DocumentRenderer
from kotae.models import Filters, Item
from kotae.providers.opensearch_store import OpenSearchStore
from kotae.providers.sqlite_store import SQLiteStore
from kotae.records.query import RecordQuery
from tests.conftest import PROMPTS, SAMPLES
from tests.fakes import FakeEmbedder
from tests.standins.opensearch import OpenSearchStandIn

DIMENSIONS = 16
OPS = Filters(scopes=("ops",), kinds=("record",))
EVERYONE = Filters(scopes=("ops", "public"))
# Besides the samples (all in "ops"): a public record of several chunks without a prompt version,
# and one without a time.
EXTRA = [
    {"item_key": "record-long", "kind": "record", "record_id": "r-long", "execution_id": "ex-20261102-01",
     "task_name": "normalize_company_name", "status": "failed", "updated_at": "2026-11-02T03:00:00Z",
     "input_value": "。".join(f"長い入力の文その{i}は会社名の正規化に失敗した例です" for i in range(80)),
     "scopes": ["public"]},
    {"item_key": "record-untimed", "kind": "record", "record_id": "r-untimed", "execution_id": "ex-20261104-01",
     "task_name": "normalize_address", "prompt_version": "v5", "status": "needs_review", "scopes": ["ops"]},
]


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SQLiteStore, OpenSearchStore]]:
    """GIVEN the sample knowledge and two extra records in both stores."""
    folder: Path = tmp_path_factory.mktemp("records")
    extra = folder / "extra.jsonl"
    extra.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in EXTRA), encoding="utf-8")
    items = [entry for path in (SAMPLES / "knowledge.jsonl", extra) for _, entry in read_items(path)]
    assert all(isinstance(entry, Item) for entry in items)
    renderer = DocumentRenderer(PROMPTS)
    with OpenSearchStandIn() as server:
        client = OpenSearch(hosts=[server.url], connection_class=RequestsHttpConnection, max_retries=0)
        opensearch = OpenSearchStore(client, "kotae-record-parity", DIMENSIONS, refresh=True)
        opensearch.ensure_index()
        sqlite = SQLiteStore(folder / "parity.sqlite3")
        for store in (sqlite, opensearch):
            Indexer(renderer, store, FakeEmbedder(DIMENSIONS)).index_many([(item, None) for item in items])
        yield sqlite, opensearch
        sqlite.close()


QUERIES = [
    pytest.param({"operation": "count"}, OPS, id="count-all"),
    pytest.param({"operation": "count", "where": {"status": ["failed"]}}, EVERYONE, id="count-failed"),
    pytest.param({"operation": "list", "where": {"execution_id": ["ex-20261102-01"]}, "limit": 4}, EVERYONE,
                 id="list-one-execution"),
    pytest.param({"operation": "list", "where": {"status": ["failed", "needs_review"]}, "limit": 100}, OPS,
                 id="list-two-statuses"),
    pytest.param({"operation": "latest", "limit": 1}, OPS, id="latest"),
    pytest.param({"operation": "list", "since": datetime(2026, 11, 2, 17, 20, tzinfo=UTC),
                  "until": datetime(2026, 11, 3, 18, 0, tzinfo=UTC)}, EVERYONE, id="time-range"),
    pytest.param({"operation": "group", "group_by": ["status"]}, EVERYONE, id="group-one"),
    pytest.param({"operation": "group", "group_by": ["status", "prompt_version"]}, EVERYONE, id="group-two"),
    pytest.param({"operation": "group", "group_by": ["execution_id"], "where": {"status": ["failed"]}}, OPS,
                 id="group-filtered"),
    pytest.param({"operation": "count"}, Filters(scopes=("public",)), id="public-sees-one"),
    pytest.param({"operation": "group", "group_by": ["status"]}, Filters(scopes=()), id="no-scopes-nothing"),
]


@pytest.mark.parametrize(("query", "filters"), QUERIES)
def test_both_stores_answer_a_record_query_alike(stores, query: dict, filters: Filters) -> None:
    sqlite, opensearch = stores
    typed = RecordQuery.model_validate(query)
    embedded, served = sqlite.query_records(typed, filters), opensearch.query_records(typed, filters)
    assert served.public() == embedded.public()
    assert json.dumps(served.public()) == json.dumps(embedded.public())  # the same order too
    assert [d.chunk_id for d in served.documents] == [d.chunk_id for d in embedded.documents]
    assert all(d.chunk_index == 0 for d in served.documents)


def test_the_parity_covers_counts_groups_and_multi_chunk_items(stores) -> None:
    sqlite, _ = stores
    assert len(sqlite.documents("record-long")) > 1  # an item of several chunks, counted once
    grouped = sqlite.query_records(RecordQuery(operation="group", group_by=["status", "prompt_version"]), EVERYONE)
    assert grouped.total == 28 and grouped.groups["failed"]["(none)"] == 1


@pytest.mark.parametrize(
    ("facet", "prefix", "limit", "filters"),
    [
        pytest.param("execution_id", "", 1000, OPS, id="all-executions"),
        pytest.param("execution_id", "ex-2026110", 2, EVERYONE, id="prefix-and-limit"),
        pytest.param("status", "", 1000, Filters(scopes=("public",)), id="public"),
        pytest.param("prompt_version", "v", 1000, EVERYONE, id="prompt-versions"),
        pytest.param("task_name", "zzz", 1000, EVERYONE, id="no-match"),
    ],
)
def test_both_stores_list_the_same_facet_values(stores, facet: str, prefix: str, limit: int, filters: Filters):
    sqlite, opensearch = stores
    expected = sqlite.facet_values("record", facet, filters, prefix=prefix, limit=limit)
    assert opensearch.facet_values("record", facet, filters, prefix=prefix, limit=limit) == expected
    assert list(opensearch.facet_values("record", facet, filters, prefix=prefix, limit=limit)) == list(expected)


@pytest.mark.parametrize("filters", [OPS, Filters(scopes=("public",)), EVERYONE], ids=["ops", "public", "everyone"])
def test_both_stores_match_the_same_facet_values(stores, filters: Filters) -> None:
    sqlite, opensearch = stores
    values = ["ex-20261102-01", "failed", "v5", "r-long", "normalize_address", "ex-19990101-01", "r-0001"]
    assert opensearch.facet_matches("record", values, filters) == sqlite.facet_matches("record", values, filters)
