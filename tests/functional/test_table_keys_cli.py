"""`kotae load`, `kotae backfill` and `kotae ingest --key` on tables keyed otherwise than item_key:
the key schema is read with DescribeTable, every line or item is held to it, and each item gets
the key its stream records give it."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest

from kotae.indexing.backfill import backfill
from kotae.indexing.streams import deserialize_image
from kotae.providers.sqlite_store import SQLiteStore
from kotae.records.keys import KeySchema, encode_key
from tests.standins.streams import REGION, knowledge_table

COMPOSITE = (("ExecutionId", "S", "HASH"), ("RecordId", "N", "RANGE"))
BINARY = (("key", "S", "HASH"), ("val", "B", "RANGE"))


@pytest.fixture(autouse=True)
def region(monkeypatch) -> None:
    monkeypatch.setenv("KOTAE_AWS_REGION", REGION)
    monkeypatch.setenv("KOTAE_KNOWLEDGE_TABLE", "knowledge")


def lines(tmp_path: Path, *rows: Any) -> Path:
    path = tmp_path / "items.jsonl"
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8"
    )
    return path


def scan(name: str = "knowledge") -> list[dict[str, Any]]:
    return boto3.resource("dynamodb", region_name=REGION).Table(name).scan()["Items"]


def stream_key(record: dict[str, Any]) -> str:
    """The key the ingest Lambda gives a stream record: its Keys, encoded."""
    keys = record["dynamodb"]["Keys"]
    return encode_key(deserialize_image(keys), KeySchema.from_stream_keys(keys))


def index(tmp_path: Path) -> SQLiteStore:
    return SQLiteStore(tmp_path / "data" / "kotae.sqlite3")


def test_load_holds_every_line_to_the_tables_key(run, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KOTAE_DEFAULT_KIND", "record")
    source = lines(
        tmp_path,
        {"ExecutionId": "ex-1", "RecordId": 7, "State": "failed", "v": 1},
        {"ExecutionId": "ex-1", "State": "failed"},
        {"ExecutionId": "ex-1", "RecordId": "8"},
        {"ExecutionId": "ex-1", "RecordId": 7.0, "State": "succeeded", "v": 2},  # the same key as line 1
        {"ExecutionId": "", "RecordId": 9},
        {"ExecutionId": "ex-2", "RecordId": 1.5, "State": "failed"},
        {"item_key": "faq-1", "kind": "faq"},
    )
    with knowledge_table(key=COMPOSITE):
        code, out, err = run("load", str(source))
        err = " ".join(err.split())
        # THEN the lines without the key, or with it of the wrong type, are reported by number
        assert code == 0, err
        assert "line 2: the item has no key attribute 'RecordId'" in err
        assert "line 3: key attribute 'RecordId' must be a number (N), not str" in err
        assert "line 5: key attribute 'ExecutionId' is empty" in err
        assert "line 7: the item has no key attribute 'ExecutionId'" in err
        assert "wrote 2 record to knowledge (keyed ExecutionId (S) + RecordId (N))" in out
        assert "4 line(s) rejected; 1 line(s) superseded by a later line" in out
        # AND the good lines are written as they are: the team's names, no kind added, the last line of 7
        items = {(i["ExecutionId"], i["RecordId"]): i for i in scan()}
        assert items == {
            ("ex-1", Decimal(7)): {
                "ExecutionId": "ex-1",
                "RecordId": Decimal(7),
                "State": "succeeded",
                "v": 2,
            },
            ("ex-2", Decimal("1.5")): {"ExecutionId": "ex-2", "RecordId": Decimal("1.5"), "State": "failed"},
        }


def test_load_writes_binary_key_values_given_as_dynamodb_json(run, tmp_path: Path) -> None:
    source = lines(
        tmp_path,
        {"key": "binary", "val": {"B": "AAEqQQ=="}, "String": "Hello"},
        {"key": "binary", "val": "AAEqQQ=="},
        {"key": "binary", "val": {"B": "not base64!"}},
        {"key": "binary", "val": {"B": 5}},
        {"key": "binary", "val": {"S": "x"}},
    )
    with knowledge_table(key=BINARY):
        code, out, err = run("load", str(source))
        err = " ".join(err.split())
        assert code == 0 and "wrote 1 unknown" in out and "4 line(s) rejected" in out
        assert "line 2: key attribute 'val' must be binary (B), not str" in err
        assert "line 3: key attribute 'val': not base64! is not base64" in err
        assert 'line 4: key attribute \'val\' is binary: write it {"B": "<base64>"}' in err
        assert 'line 5: key attribute \'val\' is binary: write it {"B": "<base64>"}' in err
        [item] = scan()
        assert item["val"].value == b"\x00\x01*A" and item["String"] == "Hello"


def test_backfill_indexes_a_composite_numeric_table_under_its_stream_keys(run, monkeypatch, tmp_path) -> None:
    schema_file = tmp_path / "schema.yaml"
    schema_file.write_text(
        "default_kind: record\nkinds:\n  record:\n    fields: {execution_id: ExecutionId, record_id: RecordId}\n"
    )
    monkeypatch.setenv("KOTAE_SCHEMA_FILE", str(schema_file))
    with knowledge_table(key=COMPOSITE) as table:
        # GIVEN a table keyed ExecutionId + RecordId, one item of it with unreadable scopes
        for n in range(1, 6):
            table.put({"ExecutionId": "ex-1", "RecordId": Decimal(n), "State": "ok", "Note": f"number {n}"})
        table.put({"ExecutionId": "ex-1", "RecordId": Decimal("6.5"), "scopes": []})
        stream_keys = {stream_key(r) for r in table.read_event()["Records"]}
        # WHEN backfilled
        code, out, err = run("backfill", "--segments", "2")
        # THEN the bad item is reported by its key and the rest are indexed under their stream keys
        assert code == 1 and "5 indexed, 0 unchanged, 0 stale, 1 failed" in out
        assert "ex-1|6.5" in err and "'scopes' must be a non-empty list" in " ".join(err.split())
        store = index(tmp_path)
        assert set(store.item_keys()) == stream_keys - {"ex-1|6.5"}
        assert store.documents("ex-1|3")[0].kind == "record"
        # AND a second run finds nothing to do
        assert "0 indexed, 5 unchanged" in run("backfill")[1]


def test_backfill_of_a_missing_table_is_one_clear_error(run) -> None:
    with knowledge_table(key=COMPOSITE):
        code, _, err = run("backfill", "--table", "nope")
    assert code == 1 and "cannot read table nope" in err and "Traceback" not in err


class PagesClient:
    """A DynamoDB client whose scan returns the given pages (already in DynamoDB JSON)."""

    def __init__(self, pages: list[list[dict[str, Any]]]) -> None:
        self.pages = pages

    def get_paginator(self, name: str):
        assert name == "scan"
        return self

    def paginate(self, **kwargs):
        return [{"Items": page} for page in self.pages]


def test_backfill_reports_an_item_without_its_key_by_position(make_kotae) -> None:
    # GIVEN scanned pages where the third item lacks its sort key (no DynamoDB table can hold it)
    kotae = make_kotae()
    item = lambda n: {"ExecutionId": {"S": "ex-1"}, "RecordId": {"N": str(n)}, "Note": {"S": f"n {n}"}}  # noqa: E731
    pages = [[item(1), item(2)], [{"ExecutionId": {"S": "ex-1"}}, item(4)]]
    # WHEN backfilled
    report = backfill(
        kotae.indexer,
        PagesClient(pages),
        "t",
        key_schema=KeySchema.of(*[(n, t) for n, t, _ in COMPOSITE]),
        segments=1,
    )
    # THEN the item is reported by its segment and position, and the others are indexed
    assert report.failures == [
        (
            "segment 0 item 3",
            "the item has no key attribute 'RecordId' (ExecutionId (S) + RecordId (N) is the key)",
        )
    ]
    assert report.outcomes["indexed"] == 3
    assert sorted(kotae.store.item_keys()) == ["ex-1|1", "ex-1|2", "ex-1|4"]


def test_ingest_with_key_options_uses_the_tables_encoding(run, tmp_path: Path) -> None:
    source = lines(
        tmp_path,
        {"ExecutionId": "ex-1", "RecordId": 7, "kind": "faq", "question": "Q7?", "answer": "A."},
        {"ExecutionId": "ex-1", "RecordId": "8"},
        {"ExecutionId": "a|b", "RecordId": 1.50, "question": "Q?"},
    )
    code, out, err = run("ingest", str(source), "--key", "ExecutionId", "--key", "RecordId:N")
    assert code == 0 and "2 indexed; 1 line(s) rejected" in out
    assert "line 2: key attribute 'RecordId' must be a number (N), not str" in " ".join(err.split())
    assert sorted(index(tmp_path).item_keys()) == ["a\\|b|1.5", "ex-1|7"]


def test_ingest_without_key_options_keeps_the_legacy_rule(run, tmp_path: Path) -> None:
    source = lines(
        tmp_path, {"ExecutionId": "ex-1", "RecordId": 7}, {"id": 9, "item_key": "k", "kind": "faq"}
    )
    code, out, err = run("ingest", str(source))
    assert code == 0 and "1 indexed; 1 line(s) rejected" in out
    assert "line 1: the item has no key (one of item_key, key, pk, id)" in err
    assert list(index(tmp_path).item_keys()) == ["k"]


@pytest.mark.parametrize(
    "options",
    [
        pytest.param(["--key", "a", "--key", "b", "--key", "c"], id="three"),
        pytest.param(["--key", "a", "--key", "a:N"], id="twice"),
    ],
)
def test_bad_key_options_are_input_errors(run, tmp_path: Path, options: list[str]) -> None:
    code, _, err = run("ingest", str(lines(tmp_path, {"a": "x"})), *options)
    assert code == 2 and "--key" in err and "Traceback" not in err
