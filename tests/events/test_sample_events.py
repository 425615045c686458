"""Published DynamoDB Streams events of tables keyed otherwise than ``item_key``, through the real
ingest handler: each item is indexed under the key its ``Keys`` give (kotae.records.keys), and a
REMOVE deletes that same item. KEYS_ONLY and OLD_IMAGE records read the item from a moto table
with the same key schema."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ingest.runtime import runtime
from tests.functional import test_ingest_handler as base
from tests.standins.streams import knowledge_table

env = base.env  # the Lambda's configuration: Titan (stand-in), SQLite index, KOTAE_KNOWLEDGE_TABLE
invoke, index_state = base.invoke, base.index_state

EVENTS = Path(__file__).parent
COMPOSITE = (("ExecutionId", "S", "HASH"), ("RecordId", "N", "RANGE"))
SCHEMA_FILE = """\
default_kind: record
kinds:
  record:
    fields:
      execution_id: ExecutionId
      record_id: RecordId
      status: State
      task_name: TaskName
      input_value: InputValue
      normalized_output: NormalizedOutput
      updated_at: UpdatedAt
"""


def event(name: str, *records: int) -> dict[str, Any]:
    """A sample event, or only some of its records (by position)."""
    loaded = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    if records:
        loaded["Records"] = [loaded["Records"][i] for i in records]
    return loaded


def store():
    return runtime().kotae.store


def ok(result: dict[str, Any]) -> bool:
    return result == {"batchItemFailures": []}


def record_item(record_id: int, state: str) -> dict[str, Any]:
    """An item of the ops team's table: their attribute names, no kind attribute."""
    return {
        "ExecutionId": "ex-20261118-01",
        "RecordId": Decimal(record_id),
        "State": state,
        "TaskName": "company-name",
        "InputValue": "(株)ほしぞら",
        "NormalizedOutput": {"name": "星空"} if state != "failed" else None,
        "UpdatedAt": "2026-11-18T09:30:00+09:00",
    }


@pytest.fixture
def mapped(env, monkeypatch, tmp_path: Path):
    """A schema file mapping the team's attribute names onto the record kind's fields."""
    path = tmp_path / "schema.yaml"
    path.write_text(SCHEMA_FILE, encoding="utf-8")
    monkeypatch.setenv("KOTAE_SCHEMA_FILE", str(path))
    return env


# -- AWS Lambda Developer Guide: a table keyed Id (N) -----------------------------------------------


def test_the_aws_docs_sample_is_indexed_under_its_number_key_and_removed(env) -> None:
    # WHEN the INSERT and the MODIFY of item 101 arrive
    assert ok(invoke(event("aws-docs-id-number.json", 0, 1)))
    # THEN one item is indexed, under "101", with the changed message and no kind (the default)
    [document] = store().documents("101")
    assert list(store().item_keys()) == ["101"] and document.item_key == "101"
    assert "This item has changed" in document.text and "New item!" not in document.text
    assert document.kind == "unknown" and document.version == "222"
    # WHEN the REMOVE arrives THEN the same item is gone
    assert ok(invoke(event("aws-docs-id-number.json", 2)))
    assert index_state(store()) == {}


def test_the_aws_docs_sample_replayed_changes_nothing(env) -> None:
    # GIVEN the whole sample applied (inserted, changed, removed)
    whole = event("aws-docs-id-number.json")
    assert ok(invoke(copy.deepcopy(whole)))
    # WHEN it is delivered again, then its INSERT alone (an old record after the REMOVE)
    assert ok(invoke(copy.deepcopy(whole)))
    assert ok(invoke(event("aws-docs-id-number.json", 0)))
    # THEN the removal stands: the replayed records found the same key and lost to its tombstone
    assert index_state(store()) == {}
    assert store().state("101").version == "333"


def test_a_default_kind_for_a_table_without_kinds(env, monkeypatch) -> None:
    monkeypatch.setenv("KOTAE_DEFAULT_KIND", "message")
    assert ok(invoke(event("aws-docs-id-number.json", 0)))
    assert store().documents("101")[0].kind == "message"


# -- aws-lambda-go testdata: key (S) + val -------------------------------------------------------


def test_the_lambda_go_sample_is_indexed_under_its_composite_key(env) -> None:
    # WHEN both INSERTs arrive (one sequence number, the second with every attribute type)
    assert ok(invoke(event("lambda-go-key-val.json")))
    # THEN there is one item, keyed by key and val in name order, rendered from the second image
    assert list(store().item_keys()) == ["binary|data"]
    text = " ".join(index_state(store())["binary|data"])
    for shown in ("Hello", "Giraffe", "Zebra", "Joe", "Cookies", "3.14159", "123.45", "567.8", "<4 bytes>"):
        assert shown in text
    assert "AAEqQQ" not in text  # binary is summarized, never indexed as base64 text


def test_a_binary_sort_key_finds_the_same_item_on_every_record(env) -> None:
    # GIVEN a table keyed key (S) + val (B); the records list the Keys in either order
    insert, modify, remove = (event("binary-sort-key.json", i) for i in range(3))
    key = "binary|\\b:AAEqQQ"
    # WHEN the INSERT and the MODIFY arrive THEN one item holds the modified text
    assert ok(invoke(insert)) and ok(invoke(modify))
    assert list(store().item_keys()) == [key]
    assert "Hello again" in store().documents(key)[0].text
    # WHEN the REMOVE arrives THEN that item is deleted
    assert ok(invoke(remove))
    assert index_state(store()) == {}


# -- KEYS_ONLY and OLD_IMAGE: the item is read from the table by the record's Keys ---------------------


def test_keys_only_records_read_the_item_with_the_teams_attribute_names(mapped) -> None:
    with knowledge_table(view_type="KEYS_ONLY", key=COMPOSITE) as table:
        # GIVEN two records of the ops table, no kind attribute, the team's own attribute names
        table.put(record_item(7, "failed"))
        table.put(record_item(8, "succeeded"))
        # WHEN their KEYS_ONLY INSERTs arrive
        assert ok(invoke(event("keys-only-composite.json", 0, 1)))
        # THEN each is indexed under ExecutionId|RecordId as a record, its fields mapped
        assert sorted(store().item_keys()) == ["ex-20261118-01|7", "ex-20261118-01|8"]
        [document] = store().documents("ex-20261118-01|7")
        assert document.kind == "record"
        assert document.title == "Record 7 · company-name · execution ex-20261118-01"
        assert "Status: failed" in document.text and "Input value: (株)ほしぞら" in document.text
        # WHEN item 8 is deleted and its REMOVE arrives THEN the same item leaves the index
        table.delete({"ExecutionId": "ex-20261118-01", "RecordId": Decimal(8)})
        assert ok(invoke(event("keys-only-composite.json", 2)))
        assert list(store().item_keys()) == ["ex-20261118-01|7"]


def test_a_keys_only_record_of_an_item_gone_by_then_removes_it(mapped) -> None:
    with knowledge_table(view_type="KEYS_ONLY", key=COMPOSITE) as table:
        table.put(record_item(7, "failed"))
        assert ok(invoke(event("keys-only-composite.json", 0)))
        table.delete({"ExecutionId": "ex-20261118-01", "RecordId": 7})
        # WHEN a later KEYS_ONLY record of the item arrives after the item was deleted
        later = event("keys-only-composite.json", 0)
        later["Records"][0]["dynamodb"]["SequenceNumber"] = "4000000000000000000000009"
        assert ok(invoke(later))
        # THEN the item is removed, not left stale
        assert index_state(store()) == {}


def test_an_old_image_record_indexes_the_item_as_it_is_now(mapped) -> None:
    with knowledge_table(view_type="OLD_IMAGE", key=COMPOSITE) as table:
        # GIVEN the item changed from needs_review (the record's old image) to failed
        table.put(record_item(7, "failed"))
        # WHEN the MODIFY arrives THEN the index holds the current item, not the old image
        assert ok(invoke(event("old-image-composite.json", 0)))
        assert "Status: failed" in store().documents("ex-20261118-01|7")[0].text
        # WHEN the REMOVE arrives THEN it is gone
        assert ok(invoke(event("old-image-composite.json", 1)))
        assert index_state(store()) == {}


def test_keys_of_another_table_fail_their_records_with_a_clear_reason(env, caplog) -> None:
    # GIVEN KOTAE_KNOWLEDGE_TABLE names a table keyed item_key (S), not the stream's table
    with knowledge_table(view_type="KEYS_ONLY") as table:
        table.put({"item_key": "a", "kind": "faq", "question": "Q?", "answer": "A."})
        records = event("keys-only-composite.json", 0, 1)
        caplog.clear()
        # WHEN the other table's KEYS_ONLY records arrive
        result = invoke(records)
    # THEN each is reported, with the reason in the log, and nothing is indexed
    numbers = [r["dynamodb"]["SequenceNumber"] for r in records["Records"]]
    assert result == {"batchItemFailures": [{"itemIdentifier": n} for n in numbers]}
    reasons = [r.reason for r in caplog.records if r.getMessage() == "record failed"]
    assert reasons and all(
        "keyed ExecutionId (S) + RecordId (N) cannot be read from table knowledge, keyed item_key (S)" in r
        and "KOTAE_KNOWLEDGE_TABLE" in r
        for r in reasons
    )
    assert index_state(store()) == {}


def test_a_keys_only_record_with_a_binary_key_reads_its_item(env) -> None:
    # (moto's stream records carry binary Keys base64-encoded twice, so this record is written here)
    with knowledge_table(view_type="KEYS_ONLY", key=(("pk", "B", "HASH"),)) as table:
        table.put({"pk": b"\x00\xffk", "Message": "binary partition key"})
        record = {
            "eventName": "INSERT",
            "eventSource": "aws:dynamodb",
            "dynamodb": {"Keys": {"pk": {"B": "AP9r"}}, "SequenceNumber": "5", "StreamViewType": "KEYS_ONLY"},
        }
        assert ok(invoke({"Records": [record]}))
        assert "binary partition key" in store().documents("\\b:AP9r")[0].text


# -- records written to moto tables of other key schemas, read back through the Streams API -------------


@pytest.mark.parametrize(
    ("key", "item", "delete", "expected"),
    [
        pytest.param(
            (("Id", "N", "HASH"),),
            {"Id": Decimal("1.50"), "Message": "New item!"},
            {"Id": Decimal("1.5")},
            "1.5",
            id="number-written-with-a-trailing-zero",
        ),
        pytest.param(
            (("tenant", "S", "HASH"), ("path", "S", "RANGE")),
            {"tenant": "acme|jp", "path": "docs\\vpn", "Message": "separator and escape in keys"},
            {"tenant": "acme|jp", "path": "docs\\vpn"},
            "docs\\\\vpn|acme\\|jp",
            id="composite-escaped",
        ),
    ],
)
def test_tables_of_any_key_schema_follow_the_stream(env, key, item, delete, expected) -> None:
    with knowledge_table(key=key) as table:
        table.put(item)
        assert ok(invoke(table.read_event()))
        assert list(store().item_keys()) == [expected]
        table.delete(delete)
        assert ok(invoke(table.read_event()))
        assert index_state(store()) == {}
