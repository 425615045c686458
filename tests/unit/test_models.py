"""kotae.models.Item: parsing raw mappings and reading scopes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pydantic
import pytest

from kotae.errors import InputError, InvalidItem
from kotae.models import Item


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        pytest.param({"item_key": "a", "key": "b", "pk": "c", "id": "d"}, "a", id="item_key-first"),
        pytest.param({"key": "b", "pk": "c", "id": "d"}, "b", id="key-second"),
        pytest.param({"pk": "c", "id": "d"}, "c", id="pk-third"),
        pytest.param({"id": "d"}, "d", id="id-last"),
        pytest.param({"item_key": "", "key": "b"}, "b", id="empty-skipped"),
        pytest.param({"item_key": None, "key": None, "pk": "c"}, "c", id="none-skipped"),
        pytest.param({"id": 5}, "5", id="int"),
        pytest.param({"id": 0}, "0", id="zero-is-a-key"),
        pytest.param({"key": -3}, "-3", id="negative-int"),
        pytest.param({"key": 10**20}, "100000000000000000000", id="big-int"),
        pytest.param({"key": "キー/1#x"}, "キー/1#x", id="unicode"),
    ],
)
def test_key_precedence(raw: dict[str, Any], key: str) -> None:
    assert Item.from_mapping(raw).key == key


def test_key_fields_and_kind_are_not_attributes() -> None:
    item = Item.from_mapping({"key": "a", "id": "x", "pk": "y", "kind": "faq", "title": "T", "n": 1})
    assert item == Item(key="a", kind="faq", attributes={"title": "T", "n": 1}, keys={"key": "a"})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param({}, "the item has no key (one of item_key, key, pk, id)", id="empty-object"),
        pytest.param(
            {"kind": "faq", "title": "x"}, "the item has no key (one of item_key, key, pk, id)", id="no-key"
        ),
        pytest.param({"key": ""}, "the item has no key (one of item_key, key, pk, id)", id="empty-key"),
        pytest.param(
            {"key": None, "id": ""}, "the item has no key (one of item_key, key, pk, id)", id="all-blank"
        ),
        pytest.param({"key": True}, "the item key must be a string, not bool", id="bool-true"),
        pytest.param({"key": False}, "the item key must be a string, not bool", id="bool-false"),
        pytest.param({"key": 1.5}, "the item key must be a string, not float", id="float"),
        pytest.param({"key": [1]}, "the item key must be a string, not list", id="list"),
        pytest.param({"key": {"S": "a"}}, "the item key must be a string, not dict", id="dict"),
        pytest.param(
            {"item_key": True, "key": "ok"}, "the item key must be a string, not bool", id="bad-first-wins"
        ),
        pytest.param(None, "an item must be a JSON object, not NoneType", id="none"),
        pytest.param([{"key": "a"}], "an item must be a JSON object, not list", id="list-input"),
        pytest.param("key", "an item must be a JSON object, not str", id="str-input"),
        pytest.param(5, "an item must be a JSON object, not int", id="int-input"),
    ],
)
def test_bad_items_raise_invalid_item(raw: Any, message: str) -> None:
    with pytest.raises(InvalidItem) as caught:
        Item.from_mapping(raw)
    assert str(caught.value) == message
    # input errors are safe to show the person who sent them
    assert caught.value.user_message == message
    assert isinstance(caught.value, InputError)


def test_decimal_key_from_dynamodb_image() -> None:
    assert Item.from_mapping({"id": Decimal("5")}).key == "5"


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        pytest.param("absent", "unknown", id="absent"),
        pytest.param(None, "unknown", id="none"),
        pytest.param("", "unknown", id="empty"),
        pytest.param(0, "unknown", id="zero"),
        pytest.param("faq", "faq", id="string"),
        pytest.param(5, "5", id="int"),
    ],
)
def test_kind(kind: Any, expected: str) -> None:
    raw: dict[str, Any] = {"key": "a"}
    if kind != "absent":
        raw["kind"] = kind
    assert Item.from_mapping(raw).kind == expected


def test_item_is_frozen() -> None:
    item = Item.from_mapping({"key": "a"})
    with pytest.raises(pydantic.ValidationError):
        item.key = "b"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("scopes", "expected"),
    [
        pytest.param("absent", ["public"], id="default"),
        pytest.param("hr", ["hr"], id="string"),
        pytest.param(["hr", "eng"], ["eng", "hr"], id="list-sorted"),
        pytest.param(("b", "a"), ["a", "b"], id="tuple"),
        pytest.param({"x"}, ["x"], id="set"),
        pytest.param(frozenset({"y", "x"}), ["x", "y"], id="frozenset"),
        pytest.param([2, 10], ["10", "2"], id="numbers-as-strings"),
        pytest.param([" hr "], ["hr"], id="trimmed"),
    ],
)
def test_scopes(scopes: Any, expected: list[str]) -> None:
    attributes = {} if scopes == "absent" else {"scopes": scopes}
    assert Item(key="k", attributes=attributes).scopes == expected
    assert Item.from_mapping({"key": "k", **attributes}).scopes == expected
