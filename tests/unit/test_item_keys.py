"""Item.from_mapping with a table's key schema and an item schema: the key is the encoding of the
key attributes, the kind comes from the configured attribute or the default, and the team's
attribute names become the kind's field names."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from kotae.errors import InvalidItem
from kotae.models import Item
from kotae.records.keys import KeyAttribute, KeySchema
from kotae.records.schema import DEFAULT_SCHEMA, parse_schema

RECORDS = KeySchema.of(("ExecutionId", "S"), ("RecordId", "N"))
TEAM = parse_schema(
    {
        "kind_attribute": "Type",
        "default_kind": "record",
        "kinds": {
            "record": {"fields": {"execution_id": "ExecutionId", "status": "State", "record_id": "RecordId"}}
        },
    }
)


def test_the_key_is_the_encoding_of_the_key_attributes() -> None:
    item = Item.from_mapping(
        {"Id": Decimal("101"), "Message": "New item!"}, key_schema=KeySchema.of(("Id", "N"))
    )
    assert item == Item(
        key="101", kind="unknown", attributes={"Message": "New item!"}, keys={"Id": Decimal("101")}
    )


def test_legacy_key_names_are_attributes_when_the_table_says_otherwise() -> None:
    # GIVEN a table keyed Id: item_key, key, pk and id are ordinary attributes of its items
    raw = {"Id": 5, "item_key": "x", "key": "k", "pk": "p", "id": "i", "kind": "faq"}
    item = Item.from_mapping(raw, key_schema=KeySchema.of(("Id", "N")))
    assert (item.key, item.kind) == ("5", "faq")
    assert item.attributes == {"item_key": "x", "key": "k", "pk": "p", "id": "i"}


def test_without_a_key_schema_the_legacy_rule_stays() -> None:
    item = Item.from_mapping({"pk": "c", "id": "d", "Id": 5, "kind": "faq"})
    assert (item.key, item.keys, item.attributes) == ("c", {"pk": "c"}, {"Id": 5})


def test_a_teams_table_without_kinds_maps_onto_the_record_kind() -> None:
    # GIVEN an ops table keyed ExecutionId + RecordId, with State and no Type attribute
    raw = {"ExecutionId": "ex-1", "RecordId": Decimal(7), "State": "failed", "TaskName": "t"}
    item = Item.from_mapping(raw, key_schema=RECORDS, schema=TEAM)
    # THEN it is a record (the default kind), its key is both attributes, and the kind's fields
    # include the key attributes the schema maps (execution_id, record_id), under their field names
    assert item.key == "ex-1|7" and item.kind == "record"
    assert item.attributes == {
        "execution_id": "ex-1",
        "record_id": Decimal(7),
        "status": "failed",
        "TaskName": "t",
    }
    assert item.keys == {"ExecutionId": "ex-1", "RecordId": Decimal(7)}


def test_key_attributes_no_field_maps_stay_out_of_the_attributes() -> None:
    raw = {"ExecutionId": "ex-1", "RecordId": 7, "Type": "faq", "question": "Q?"}
    item = Item.from_mapping(raw, key_schema=RECORDS, schema=TEAM)
    assert item.kind == "faq" and item.attributes == {"question": "Q?"}  # faq maps no fields


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        pytest.param({"Type": "faq"}, "faq", id="kind-attribute"),
        pytest.param({"kind": "faq"}, "record", id="kind-is-not-the-kind-attribute-here"),
        pytest.param({"Type": ""}, "record", id="empty-is-the-default"),
        pytest.param({"Type": None}, "record", id="null-is-the-default"),
        pytest.param({}, "record", id="absent-is-the-default"),
    ],
)
def test_the_kind_comes_from_the_configured_attribute(raw: dict[str, Any], kind: str) -> None:
    item = Item.from_mapping({"ExecutionId": "e", "RecordId": 1, **raw}, key_schema=RECORDS, schema=TEAM)
    assert item.kind == kind and "Type" not in item.attributes


def test_a_key_attribute_may_be_the_kind_attribute() -> None:
    # A single-table design: partition key pk, sort key Type naming the kind.
    schema = DEFAULT_SCHEMA.model_copy(update={"kind_attribute": "Type"})
    key = KeySchema.of(("pk", "S"), ("Type", "S"))
    item = Item.from_mapping({"pk": "vpn", "Type": "faq", "question": "Q?"}, key_schema=key, schema=schema)
    assert (item.key, item.kind, item.attributes) == ("faq|vpn", "faq", {"question": "Q?"})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param({"RecordId": 7}, "the item has no key attribute 'ExecutionId'", id="missing"),
        pytest.param({"ExecutionId": "", "RecordId": 7}, "key attribute 'ExecutionId' is empty", id="empty"),
        pytest.param(
            {"ExecutionId": "e", "RecordId": "7"}, "'RecordId' must be a number (N), not str", id="type"
        ),
        pytest.param({"ExecutionId": "e", "RecordId": None}, "no key attribute 'RecordId'", id="null"),
        pytest.param(
            {"ExecutionId": "e", "RecordId": 1, "scope": "hr"},
            "the item has 'scope' but no 'scopes'",
            id="scopes",
        ),
        pytest.param(
            {"ExecutionId": "e", "RecordId": 1, "scopes": []},
            "'scopes' must be a non-empty list",
            id="empty-scopes",
        ),
    ],
)
def test_items_a_table_could_not_hold_or_show_are_refused(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidItem, match=re.escape(message)):
        Item.from_mapping(raw, key_schema=RECORDS, schema=TEAM)


def test_a_sort_key_over_its_limit_is_refused() -> None:
    key = KeySchema((KeyAttribute("pk", "S", "partition"), KeyAttribute("sk", "S", "sort")))
    with pytest.raises(InvalidItem, match="over DynamoDB's 1,024 for a sort key"):
        Item.from_mapping({"pk": "p", "sk": "s" * 1025}, key_schema=key)


def test_mapped_scopes_are_still_checked() -> None:
    # A team whose visibility attribute is Visibility maps it onto scopes: it must still be readable.
    schema = parse_schema({"kinds": {"faq": {"fields": {"scopes": "Visibility"}}}})
    key = KeySchema.of(("Id", "N"))
    item = Item.from_mapping({"Id": 1, "kind": "faq", "Visibility": ["hr"]}, key_schema=key, schema=schema)
    assert item.scopes == ["hr"]
    with pytest.raises(InvalidItem, match="'scopes' must be a non-empty list"):
        Item.from_mapping({"Id": 1, "kind": "faq", "Visibility": []}, key_schema=key, schema=schema)
