"""RecordService (checks, closest ids, unfiltered) and the record answer text, on a fake store."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from kotae.errors import InvalidRecordQuery
from kotae.models import Document, Filters
from kotae.records.answers import group_table, record_answer_text
from kotae.records.query import RecordQuery, RecordResult
from kotae.records.schema import DEFAULT_SCHEMA
from kotae.records.service import RecordService


class FakeRecords:
    """Facet values per item, visible to every scope; answers what the service asks."""

    def __init__(self, rows: dict[str, dict[str, str]]) -> None:
        self.rows = rows
        self.queries: list[RecordQuery] = []

    def query_records(self, query: RecordQuery, filters: Filters) -> RecordResult:
        self.queries.append(query)
        keys = sorted(k for k, f in self.rows.items() if all(f.get(n) in v for n, v in query.where.items()))
        return RecordResult(query=query, total=len(keys), keys=keys[: query.limit])

    def facet_values(self, kind: str, facet: str, filters: Filters, *, prefix: str = "", limit: int = 1000) -> dict[str, int]:
        values: dict[str, int] = {}
        for facets in self.rows.values():
            value = facets.get(facet)
            if value is not None and value.startswith(prefix):
                values[value] = values.get(value, 0) + 1
        return dict(sorted(values.items())[:limit])

    def facet_matches(self, kind: str, values: Sequence[str], filters: Filters) -> dict[str, list[str]]:
        found: dict[str, set[str]] = {}
        for facets in self.rows.values():
            for name, value in facets.items():
                if value in values:
                    found.setdefault(value, set()).add(name)
        return {v: sorted(n) for v, n in found.items()}


ROWS = {
    f"rec-{e}-{i}": {"execution_id": f"ex-2026111{e}-01", "status": "failed" if i % 3 == 0 else "succeeded"}
    for e in range(3)
    for i in range(6)
}
EVERYONE = Filters(scopes=("ops",))


def service() -> tuple[RecordService, FakeRecords]:
    store = FakeRecords(ROWS)
    return RecordService(store, DEFAULT_SCHEMA), store


def test_a_checked_query_runs_with_the_kind_as_a_filter() -> None:
    svc, store = service()
    result = svc.execute(RecordQuery(operation="count", where={"execution_id": ["ex-20261110-01"]}), EVERYONE)
    assert result.total == 6 and not result.unfiltered and not result.unknown
    assert len(store.queries) == 1


def test_no_filter_is_reported_as_unfiltered() -> None:
    svc, _ = service()
    result = svc.execute(RecordQuery(operation="count"), EVERYONE)
    assert result.total == len(ROWS) and result.unfiltered


@pytest.mark.parametrize(
    ("query", "message"),
    [
        pytest.param(RecordQuery(operation="count", where={"colour": ["red"]}), "colour is not a facet", id="facet"),
        pytest.param(RecordQuery(kind="faq", operation="count"), "kind 'faq' has no record facets", id="kind"),
    ],
)
def test_a_query_the_schema_cannot_answer_is_refused_before_the_store(query: RecordQuery, message: str) -> None:
    svc, store = service()
    with pytest.raises(InvalidRecordQuery, match=message):
        svc.execute(query, EVERYONE)
    assert store.queries == []


def test_a_kinds_filter_without_the_record_kind_refuses_record_queries() -> None:
    svc, _ = service()
    with pytest.raises(InvalidRecordQuery):
        svc.execute(RecordQuery(operation="count"), Filters(kinds=("faq",)))


def test_an_execution_that_does_not_exist_is_named_with_the_closest_ones_and_not_counted() -> None:
    svc, store = service()
    query = RecordQuery(operation="count", where={"execution_id": ["ex-20261119-01"], "status": ["failed"]})
    result = svc.execute(query, EVERYONE)
    assert store.queries == [] and result.total == 0
    assert list(result.unknown) == ["execution_id"]
    assert result.unknown["execution_id"][0] == "ex-20261112-01"  # nearest by spelling
    assert len(result.unknown["execution_id"]) == 3


def test_a_known_status_with_no_records_is_a_zero_not_an_unknown_value() -> None:
    svc, _ = service()
    result = svc.execute(RecordQuery(operation="count", where={"status": ["needs_review"]}), EVERYONE)
    assert result.total == 0 and not result.unknown


def doc(key: str, status: str, text: str = "") -> Document:
    return Document(chunk_id=f"{key}#0000", item_key=key, kind="record", title=f"Record {key}", text=text, facets={"status": status})


def test_the_answer_states_the_count_lists_sources_and_says_how_many_more() -> None:
    query = RecordQuery(operation="count", where={"execution_id": ["ex-1"], "status": ["failed"]}, limit=2)
    result = RecordResult(query=query, total=6, keys=["a", "b"])
    text = record_answer_text(result, [("S1", doc("a", "failed", "Error: timeout")), ("S2", doc("b", "failed"))], "en")
    assert text.startswith("6 records matching execution_id = ex-1, status = failed.")
    assert "[S1] Record a — failed\n    Error: timeout" in text and "[S2] Record b — failed" in text
    assert text.endswith("…and 4 more (6 in total).")
    ja = record_answer_text(result, [("S1", doc("a", "failed"))], "ja")
    assert "レコードは 6 件です。" in ja and "ほか 5 件（合計 6 件）" in ja


def test_an_unfiltered_answer_says_it_covers_everything_visible() -> None:
    result = RecordResult(query=RecordQuery(operation="count"), total=12, unfiltered=True)
    assert "every record you can see here" in record_answer_text(result, [], "en")
    assert "すべてのレコード" in record_answer_text(result, [], "ja")


def test_an_unknown_execution_answer_names_it_and_the_closest() -> None:
    query = RecordQuery(operation="count", where={"execution_id": ["ex-9"]})
    result = RecordResult(query=query, total=0, unknown={"execution_id": ["ex-1", "ex-2"]})
    text = record_answer_text(result, [], "en")
    assert text == "No record you can see here has execution_id ex-9.\nClosest: ex-1, ex-2"
    assert "0" not in text.split("\n")[0]


def test_groups_render_as_a_table_with_totals() -> None:
    table = group_table({"v2": {"failed": 3, "succeeded": 10}, "v3": {"succeeded": 12}}, ["prompt_version", "status"])
    assert table.splitlines() == [
        "```",
        "prompt_version \\ status  failed  succeeded  total",
        "v2                            3         10     13",
        "v3                            0         12     12",
        "```",
    ]
    single = group_table({"failed": 2, "succeeded": 5}, ["status"])
    assert single.splitlines()[1:3] == ["status     count", "failed         2"]
