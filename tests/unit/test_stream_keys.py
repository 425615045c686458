"""parse_record: a stream record's identity is its ``dynamodb.Keys``, with their types; records
without a new image are read from the table once the record's key is known to be the table's."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from kotae.indexing.streams import InvalidRecord, StreamIngestor, parse_record
from kotae.records.keys import KeySchema
from kotae.records.schema import parse_schema

KEYS = {"RecordId": {"N": "7.0"}, "ExecutionId": {"S": "ex-1"}}
IMAGE = {**KEYS, "State": {"S": "failed"}}


def record(
    event: str = "INSERT", keys: Any = KEYS, image: dict | None = IMAGE, view: str = "NEW_IMAGE"
) -> dict:
    dynamodb: dict[str, Any] = {"SequenceNumber": "100", "StreamViewType": view}
    if keys is not None:
        dynamodb["Keys"] = keys
    if image is not None:
        dynamodb["NewImage"] = image
    return {"eventName": event, "eventSource": "aws:dynamodb", "dynamodb": dynamodb}


class Table:
    """A knowledge table in memory; counts its reads."""

    name = "records"

    def __init__(self, key: KeySchema, items: dict[str, dict[str, Any]] | None = None) -> None:
        self.key, self.items, self.reads = key, items or {}, 0

    def key_schema(self) -> KeySchema:
        return self.key

    def get(self, keys: dict[str, Any]) -> dict[str, Any] | None:
        self.reads += 1
        return self.items.get(f"{keys['ExecutionId']}/{keys['RecordId']}")


RECORDS = KeySchema.of(("ExecutionId", "S"), ("RecordId", "N"))


def test_the_key_comes_from_the_keys_in_name_order_numbers_canonical() -> None:
    change = parse_record(record())
    assert (change.action, change.key, change.version) == ("upsert", "ex-1|7", "100")
    assert change.item is not None and change.item.keys == {"ExecutionId": "ex-1", "RecordId": Decimal("7.0")}


def test_a_remove_has_the_same_key_without_an_image() -> None:
    change = parse_record(record("REMOVE", image=None))
    assert (change.action, change.key, change.item) == ("remove", "ex-1|7", None)


def test_the_item_schema_is_applied() -> None:
    schema = parse_schema({"default_kind": "record", "kinds": {"record": {"fields": {"status": "State"}}}})
    change = parse_record(record(), schema=schema)
    assert change.item is not None and change.item.kind == "record"
    assert change.item.attributes == {"status": "failed"}


def test_the_ingestor_passes_its_schema_on() -> None:
    schema = parse_schema({"default_kind": "note"})
    ingestor = StreamIngestor(indexer=None, schema=schema)  # type: ignore[arg-type]
    assert ingestor.schema is schema and ingestor.table is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(record(keys=None), "INSERT record without dynamodb keys", id="no-keys"),
        pytest.param(record(keys={}), "INSERT record without dynamodb keys", id="empty-keys"),
        pytest.param(record(keys={"Id": {"BOOL": True}}), "'Id' is not one S, N or B value", id="bool-key"),
        pytest.param(record(keys={"Id": {"S": ""}}), "key attribute 'Id' is empty", id="empty-string"),
        pytest.param(
            record(keys={"Id": {"N": "abc"}}), "malformed key values (ValueError)", id="not-a-number"
        ),
        pytest.param(record(keys={"Id": {"B": "%%%"}}), "malformed key values (Error)", id="not-base64"),
        pytest.param(record(keys={"Id": {"N": "1E+200"}}), "malformed key values", id="number-out-of-range"),
        pytest.param(
            record(image={"ExecutionId": {"S": "ex-1"}, "RecordId": {"N": "8"}}),
            "INSERT ex-1|7: the item's key attributes are not the record's Keys",
            id="image-of-another-item",
        ),
        pytest.param(
            record(image={"State": {"S": "failed"}}),
            "the item has no key attribute 'ExecutionId'",
            id="image-without-key",
        ),
        pytest.param(
            record(image={**KEYS, "x": {"Q": 1}}), "malformed attribute values", id="bad-image-value"
        ),
        pytest.param(
            record(image=None, view="KEYS_ONLY"),
            "stream view type KEYS_ONLY carries no new image; set KOTAE_KNOWLEDGE_TABLE",
            id="keys-only-without-a-table",
        ),
    ],
)
def test_records_that_cannot_be_applied(raw: dict, message: str) -> None:
    with pytest.raises(InvalidRecord) as caught:
        parse_record(raw)
    assert message in str(caught.value)


def test_a_record_without_an_image_is_read_from_the_table() -> None:
    table = Table(
        RECORDS, {"ex-1/7.0": {"ExecutionId": "ex-1", "RecordId": Decimal(7), "State": "succeeded"}}
    )
    change = parse_record(record(image=None, view="KEYS_ONLY"), table)
    assert change.item is not None and change.key == "ex-1|7" and table.reads == 1
    assert change.item.attributes == {"State": "succeeded"}


def test_an_item_gone_from_the_table_is_removed() -> None:
    change = parse_record(record("MODIFY", image=None, view="OLD_IMAGE"), Table(RECORDS))
    assert (change.action, change.key, change.event) == ("remove", "ex-1|7", "MODIFY")


@pytest.mark.parametrize(
    "table_key",
    [
        pytest.param(KeySchema.of(("item_key", "S")), id="other-names"),
        pytest.param(KeySchema.of(("ExecutionId", "S"), ("RecordId", "S")), id="other-types"),
        pytest.param(KeySchema.of(("ExecutionId", "S")), id="partition-key-only"),
    ],
)
def test_keys_that_are_not_the_tables_are_refused_before_reading(table_key: KeySchema) -> None:
    table = Table(table_key)
    with pytest.raises(InvalidRecord) as caught:
        parse_record(record(image=None, view="KEYS_ONLY"), table)
    assert f"cannot be read from table records, keyed {table_key}" in str(caught.value)
    assert "KOTAE_KNOWLEDGE_TABLE must name the table whose stream this is" in str(caught.value)
    assert table.reads == 0
