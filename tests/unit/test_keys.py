"""kotae.records.keys: one string per item, the same from every path, for any key schema.

Properties (hypothesis): for any schema of one or two attributes of any types and any values
DynamoDB accepts for them, ``decode_key(encode_key(v)) == v`` (numbers compared as Decimal),
distinct values give distinct strings, and stream ``Keys`` and DescribeTable + the full item
give the same string.
"""

from __future__ import annotations

import base64
import decimal
import re
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import Binary, TypeSerializer
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kotae.errors import InvalidItem, StoreError
from kotae.indexing.streams import deserialize_image
from kotae.records.keys import (
    KeyAttribute,
    KeySchema,
    canonical_number,
    decode_key,
    describe_key_schema,
    encode_key,
    key_values,
)

SERIALIZE = TypeSerializer().serialize
_WIDE = decimal.Context(prec=60)  # wide enough never to round a DynamoDB number
PROPERTIES = settings(max_examples=300, deadline=None, database=None)

# -- strategies -------------------------------------------------------------------------------------

# Names: any text, and the ones real tables use; the separator and escape characters included.
NAMES = st.one_of(
    st.text(min_size=1, max_size=12), st.sampled_from(["Id", "key", "val", "pk", "sk", "a|b", "\\"])
)
# Strings: mostly made of the characters the encoding treats specially, so collisions are tried.
STRINGS = st.one_of(
    st.text(alphabet="ab|\\:=-_", min_size=1, max_size=12),
    st.text(min_size=1, max_size=60),
    st.sampled_from(["\\b:AQ", "\\", "|", "\\|", "||", "a\\", "ＶＰＮ", "キー/1#x", " "]),
)


@st.composite
def numbers(draw: st.DrawFn) -> Decimal | int | float:
    """Any DynamoDB number (38 digits, magnitude 1E-130 to below 1E+126), in any of the forms
    it may come in: Decimal with or without an exponent or trailing zeros, int, float."""
    coefficient = draw(st.integers(0, 10 ** draw(st.integers(1, 38)) - 1))
    digits = len(str(coefficient))
    low, high = -130 - (digits - 1), 125 - (digits - 1)  # the adjusted exponent stays in range
    exponent = draw(st.integers(low, high))
    sign = "-" if draw(st.booleans()) else ""
    value = Decimal(f"{sign}{coefficient}E{exponent}")
    form = draw(st.sampled_from(["decimal", "trailing-zeros", "int", "float"]))
    if form == "trailing-zeros" and digits < 38 and exponent > low:
        return value.quantize(Decimal(f"1E{exponent - 1}"), context=_WIDE)  # same value, one digit more
    if form == "int" and value == value.to_integral_value() and value.adjusted() < 38:
        return int(value)
    if form == "float" and digits <= 15 and -300 < exponent < 280:
        return float(value)
    return value


BINARIES = st.one_of(st.binary(min_size=1, max_size=40), st.sampled_from([b"\x00", b"\xff", b"|", b"\\"]))
VALUES = {"S": STRINGS, "N": numbers(), "B": BINARIES}


@st.composite
def schemas(draw: st.DrawFn) -> KeySchema:
    """One or two attributes of any types, with or without roles."""
    names = draw(st.lists(NAMES, min_size=1, max_size=2, unique=True))
    types = [draw(st.sampled_from(["S", "N", "B"])) for _ in names]
    roles: list[Any] = ["partition", "sort"][: len(names)] if draw(st.booleans()) else [None] * len(names)
    if draw(st.booleans()):
        roles.reverse()
    return KeySchema(tuple(KeyAttribute(n, t, r) for n, t, r in zip(names, types, roles, strict=True)))


def values_for(schema: KeySchema) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({a.name: VALUES[a.type] for a in schema.attributes})


def normal(value: Any) -> Any:
    """What a value is as a key: numbers by value, binary as bytes."""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return Decimal(canonical_number(value))
    if isinstance(value, Binary):
        return value.value
    return value


def stream_keys(values: dict[str, Any], schema: KeySchema) -> dict[str, Any]:
    """The ``dynamodb.Keys`` Lambda delivers for these values: type tags, B as base64."""
    keys = {}
    for attribute in schema.attributes:
        tagged = SERIALIZE(Decimal(repr(v)) if isinstance(v := values[attribute.name], float) else v)
        if "B" in tagged:
            tagged = {"B": base64.b64encode(tagged["B"]).decode()}
        keys[attribute.name] = tagged
    return keys


def describe_response(schema: KeySchema) -> dict[str, Any]:
    """DescribeTable's answer for a table with this key, partition key listed first."""
    ordered = sorted(schema.attributes, key=lambda a: a.role != "partition")
    kinds = {"partition": "HASH", "sort": "RANGE"}
    return {
        "Table": {
            "TableName": "t",
            "KeySchema": [
                {"AttributeName": a.name, "KeyType": kinds[a.role or ("partition" if i == 0 else "sort")]}
                for i, a in enumerate(ordered)
            ],
            "AttributeDefinitions": [
                {"AttributeName": a.name, "AttributeType": a.type} for a in reversed(ordered)
            ],
        }
    }


# -- properties -----------------------------------------------------------------------------------


@PROPERTIES
@given(data=st.data(), schema=schemas())
def test_decode_inverts_encode(data: st.DataObject, schema: KeySchema) -> None:
    values = data.draw(values_for(schema))
    decoded = decode_key(encode_key(values, schema), schema)
    assert decoded == {name: normal(v) for name, v in values.items()}
    assert all(
        isinstance(decoded[a.name], {"S": str, "N": Decimal, "B": bytes}[a.type]) for a in schema.attributes
    )


@PROPERTIES
@given(data=st.data(), schema=schemas())
@example(data=None, schema=KeySchema.of(("a", "S"), ("b", "S")))  # the classic "a|b" + "c" case
def test_distinct_values_encode_to_distinct_strings(data: st.DataObject | None, schema: KeySchema) -> None:
    if data is None:
        first, second = {"a": "x|", "b": "y"}, {"a": "x", "b": "|y"}
    else:
        first, second = data.draw(values_for(schema)), data.draw(values_for(schema))
    same_values = {k: normal(v) for k, v in first.items()} == {k: normal(v) for k, v in second.items()}
    assert (encode_key(first, schema) == encode_key(second, schema)) == same_values


@PROPERTIES
@given(data=st.data(), schema=schemas())
def test_stream_keys_and_describe_table_give_the_same_key(data: st.DataObject, schema: KeySchema) -> None:
    # GIVEN an item of a table with this key, other attributes too
    values = data.draw(values_for(schema))
    item = {**data.draw(st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=4)), **values}
    # WHEN its key is read from a stream record's Keys, and from DescribeTable and the item
    keys = stream_keys(values, schema)
    from_stream = encode_key(deserialize_image(keys), KeySchema.from_stream_keys(keys))
    from_table = encode_key(item, KeySchema.from_describe_table(describe_response(schema)))
    # THEN both are the same string, and the two schemas match
    assert from_stream == from_table
    assert KeySchema.from_stream_keys(keys).matches(KeySchema.from_describe_table(describe_response(schema)))


@PROPERTIES
@given(value=numbers())
def test_one_number_has_one_key_whatever_its_form(value: Any) -> None:
    text = canonical_number(value)
    assert Decimal(text) == Decimal(repr(value) if isinstance(value, float) else value)
    forms = {
        Decimal(text).normalize(_WIDE),
        Decimal(f"{text}E0"),
        _WIDE.multiply(Decimal(text), Decimal("1.00")),
    }
    assert {canonical_number(f) for f in forms} == {text}
    assert "E" not in text and "e" not in text and text != "-0"


# -- rules, by example ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "schema", "key"),
    [
        pytest.param({"item_key": "faq-1"}, KeySchema.of(("item_key", "S")), "faq-1", id="one-string-as-is"),
        pytest.param({"k": "a|b\\c"}, KeySchema.of(("k", "S")), "a|b\\c", id="one-string-never-escaped"),
        pytest.param({"Id": Decimal("101")}, KeySchema.of(("Id", "N")), "101", id="aws-sample-id"),
        pytest.param({"Id": Decimal("1E0")}, KeySchema.of(("Id", "N")), "1", id="exponent"),
        pytest.param({"Id": 1.0}, KeySchema.of(("Id", "N")), "1", id="float"),
        pytest.param({"Id": Decimal("-0.0")}, KeySchema.of(("Id", "N")), "0", id="minus-zero"),
        pytest.param({"Id": Decimal("12.3400")}, KeySchema.of(("Id", "N")), "12.34", id="trailing-zeros"),
        pytest.param({"Id": Decimal("-1.5E-3")}, KeySchema.of(("Id", "N")), "-0.0015", id="small-negative"),
        pytest.param({"Id": Decimal("1E+3")}, KeySchema.of(("Id", "N")), "1000", id="no-exponent"),
        pytest.param({"b": b"\x01\xff"}, KeySchema.of(("b", "B")), "\\b:Af8", id="binary-base64url"),
        pytest.param({"b": Binary(b"\xfb\xff")}, KeySchema.of(("b", "B")), "\\b:-_8", id="boto3-binary"),
        pytest.param(
            {"key": "binary", "val": base64.b64decode("AAEqQQ==")},
            KeySchema.of(("val", "B"), ("key", "S")),
            "binary|\\b:AAEqQQ",
            id="lambda-go-sample-name-order",
        ),
        pytest.param(
            {"ExecutionId": "ex|1\\", "RecordId": 7},
            KeySchema.of(("RecordId", "N"), ("ExecutionId", "S")),
            "ex\\|1\\\\|7",
            id="composite-escaped",
        ),
    ],
)
def test_encoding_rules(values: dict[str, Any], schema: KeySchema, key: str) -> None:
    assert encode_key(values, schema) == key
    assert {k: normal(v) for k, v in values.items()} == decode_key(key, schema)


def test_the_legacy_key_of_an_item_key_table_is_unchanged() -> None:
    # An index built before key schemas were read keeps its keys: item_key (S) as it is.
    for key in ("faq-ja-003", "record-ex-20261118-01-0001", "a#0001", "ＶＰＮ", "r/1", "x|y"):
        assert encode_key({"item_key": key}, KeySchema.of(("item_key", "S"))) == key


def test_sort_and_partition_keys_have_their_own_limits() -> None:
    schema = KeySchema((KeyAttribute("pk", "S", "partition"), KeyAttribute("sk", "S", "sort")))
    assert encode_key({"pk": "p" * 2048, "sk": "s" * 1024}, schema)
    with pytest.raises(InvalidItem, match="'sk' takes 1,025 bytes, over DynamoDB's 1,024 for a sort key"):
        encode_key({"pk": "p", "sk": "s" * 1025}, schema)
    with pytest.raises(
        InvalidItem, match="'pk' takes 2,049 bytes, over DynamoDB's 2,048 for a partition key"
    ):
        encode_key({"pk": "é" * 1024 + "p", "sk": "s"}, schema)
    # Stream keys do not say which is which: the partition key's limit applies to both.
    assert encode_key({"pk": "p", "sk": "s" * 2048}, KeySchema.of(("pk", "S"), ("sk", "S")))
    with pytest.raises(InvalidItem, match="over DynamoDB's 2,048 for a partition key"):
        encode_key({"b": b"x" * 2049}, KeySchema.of(("b", "B")))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        pytest.param({}, "the item has no key attribute 'Id' (Id (N) + Sk (S) is the key)", id="missing"),
        pytest.param({"Id": None, "Sk": "a"}, "the item has no key attribute 'Id'", id="null"),
        pytest.param({"Id": "101", "Sk": "a"}, "'Id' must be a number (N), not str", id="number-as-string"),
        pytest.param({"Id": True, "Sk": "a"}, "'Id' must be a number (N), not bool", id="bool"),
        pytest.param({"Id": Decimal("NaN"), "Sk": "a"}, "'Id': not a finite number", id="nan"),
        pytest.param({"Id": float("inf"), "Sk": "a"}, "'Id': not a finite number", id="infinity"),
        pytest.param(
            {"Id": 10**38 + 1, "Sk": "a"}, "more than DynamoDB's 38 significant digits", id="39-digits"
        ),
        pytest.param({"Id": Decimal("1E+126"), "Sk": "a"}, "outside DynamoDB's number range", id="too-large"),
        pytest.param({"Id": Decimal("1E-131"), "Sk": "a"}, "outside DynamoDB's number range", id="too-small"),
        pytest.param({"Id": 1, "Sk": ""}, "key attribute 'Sk' is empty", id="empty-string"),
        pytest.param({"Id": 1, "Sk": 5}, "'Sk' must be a string (S), not int", id="string-as-number"),
        pytest.param({"Id": 1, "Sk": b"a"}, "'Sk' must be a string (S), not bytes", id="string-as-bytes"),
        pytest.param({"Id": 1, "Sk": "\ud800"}, "'Sk' holds a lone surrogate", id="lone-surrogate"),
    ],
)
def test_values_that_cannot_be_the_key(values: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidItem, match=re.escape(message)):
        key_values(values, KeySchema.of(("Id", "N"), ("Sk", "S")))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(b"", "'b' is empty", id="empty"),
        pytest.param("AQ==", "'b' must be binary (B), not str", id="base64-text"),
        pytest.param(bytearray(b"\x01"), None, id="bytearray-is-binary"),
    ],
)
def test_binary_values(value: Any, message: str | None) -> None:
    schema = KeySchema.of(("b", "B"))
    if message is None:
        assert encode_key({"b": value}, schema) == "\\b:AQ"
        return
    with pytest.raises(InvalidItem, match=re.escape(message)):
        encode_key({"b": value}, schema)


@pytest.mark.parametrize(
    ("text", "schema"),
    [
        pytest.param("", KeySchema.of(("k", "S")), id="empty"),
        pytest.param(None, KeySchema.of(("k", "S")), id="not-text"),
        pytest.param("1.0", KeySchema.of(("n", "N")), id="not-canonical-number"),
        pytest.param("1E3", KeySchema.of(("n", "N")), id="exponent"),
        pytest.param("-0", KeySchema.of(("n", "N")), id="minus-zero"),
        pytest.param("abc", KeySchema.of(("n", "N")), id="not-a-number"),
        pytest.param("1" * 39, KeySchema.of(("n", "N")), id="39-digits"),
        pytest.param("AQ", KeySchema.of(("b", "B")), id="binary-without-prefix"),
        pytest.param("\\b:", KeySchema.of(("b", "B")), id="binary-empty"),
        pytest.param("\\b:A", KeySchema.of(("b", "B")), id="binary-impossible-length"),
        pytest.param("\\b:AR", KeySchema.of(("b", "B")), id="binary-stray-bits"),
        pytest.param("\\b:AQ==", KeySchema.of(("b", "B")), id="binary-padded"),
        pytest.param("\\b:A+8", KeySchema.of(("b", "B")), id="binary-not-url-alphabet"),
        pytest.param("a", KeySchema.of(("a", "S"), ("b", "S")), id="one-part-of-two"),
        pytest.param("a|b|c", KeySchema.of(("a", "S"), ("b", "S")), id="three-parts-of-two"),
        pytest.param("a|b\\", KeySchema.of(("a", "S"), ("b", "S")), id="lone-escape-at-end"),
        pytest.param("a\\x|b", KeySchema.of(("a", "S"), ("b", "S")), id="unknown-escape"),
        pytest.param("|b", KeySchema.of(("a", "S"), ("b", "S")), id="empty-part"),
        pytest.param("x" * 2049, KeySchema.of(("k", "S")), id="over-the-limit"),
    ],
)
def test_texts_no_key_encodes_to_are_refused(text: Any, schema: KeySchema) -> None:
    with pytest.raises(InvalidItem):
        decode_key(text, schema)


# -- schemas --------------------------------------------------------------------------------------


def test_schemas_are_kept_in_name_order_and_compare_without_roles() -> None:
    described = KeySchema((KeyAttribute("val", "B", "sort"), KeyAttribute("key", "S", "partition")))
    streamed = KeySchema.from_stream_keys({"val": {"B": "AQ=="}, "key": {"S": "binary"}})
    assert described.names == streamed.names == ("key", "val")
    assert described.matches(streamed) and described != streamed  # roles are known on one side only
    assert str(described) == "key (S) + val (B)"
    assert not described.matches(KeySchema.of(("key", "S"), ("val", "S")))


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        pytest.param({}, "the record has no key attributes", id="empty"),
        pytest.param(None, "the record has no key attributes", id="none"),
        pytest.param({"k": {"Q": "x"}}, "'k' is not one S, N or B value", id="unknown-tag"),
        pytest.param({"k": {"BOOL": True}}, "'k' is not one S, N or B value", id="bool-tag"),
        pytest.param({"k": {"S": "a", "N": "1"}}, "'k' is not one S, N or B value", id="two-tags"),
        pytest.param({"k": "a"}, "'k' is not one S, N or B value", id="untagged"),
        pytest.param(
            {"a": {"S": "1"}, "b": {"S": "2"}, "c": {"S": "3"}}, "one or two attributes, not 3", id="three"
        ),
        pytest.param({"": {"S": "1"}}, "a non-empty name", id="empty-name"),
    ],
)
def test_bad_stream_keys(keys: Any, message: str) -> None:
    with pytest.raises(InvalidItem, match=message):
        KeySchema.from_stream_keys(keys)


@pytest.mark.parametrize(
    "response",
    [
        pytest.param({"Table": {"TableName": "t", "KeySchema": []}}, id="no-definitions"),
        pytest.param({"Table": {"TableName": "t", "KeySchema": [], "AttributeDefinitions": []}}, id="no-key"),
        pytest.param(
            {
                "Table": {
                    "TableName": "t",
                    "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}],
                    "AttributeDefinitions": [{"AttributeName": "a", "AttributeType": "BOOL"}],
                }
            },
            id="bad-type",
        ),
        pytest.param(
            {
                "Table": {
                    "TableName": "t",
                    "KeySchema": [{"AttributeName": "a", "KeyType": "OTHER"}],
                    "AttributeDefinitions": [{"AttributeName": "a", "AttributeType": "S"}],
                }
            },
            id="bad-role",
        ),
        pytest.param("not a response", id="not-a-mapping"),
    ],
)
def test_an_unreadable_describe_table_response_is_a_store_error(response: Any) -> None:
    with pytest.raises(StoreError, match="cannot read the key schema of"):
        KeySchema.from_describe_table(response)


def test_describe_table_answer_of_a_composite_table() -> None:
    response = {
        "Table": {
            "TableName": "records",
            "KeySchema": [
                {"AttributeName": "RecordId", "KeyType": "RANGE"},
                {"AttributeName": "ExecutionId", "KeyType": "HASH"},
            ],
            "AttributeDefinitions": [
                {"AttributeName": "ExecutionId", "AttributeType": "S"},
                {"AttributeName": "RecordId", "AttributeType": "N"},
                {"AttributeName": "Other", "AttributeType": "S"},  # an index's key, not the table's
            ],
        }
    }
    schema = KeySchema.from_describe_table(response)
    assert schema == KeySchema(
        (KeyAttribute("ExecutionId", "S", "partition"), KeyAttribute("RecordId", "N", "sort"))
    )
    assert KeySchema.from_describe_table(response["Table"]) == schema


def test_describe_key_schema_reads_the_table_and_translates_errors() -> None:
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("dynamodb", region_name="ap-northeast-1")
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "Id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "Id", "AttributeType": "N"}],
            BillingMode="PAY_PER_REQUEST",
        )
        assert describe_key_schema(client, "t") == KeySchema((KeyAttribute("Id", "N", "partition"),))
        with pytest.raises(StoreError, match="cannot read the key schema of table nope: .*ResourceNotFound"):
            describe_key_schema(client, "nope")


@pytest.mark.parametrize(
    ("specs", "expected"),
    [
        pytest.param(["item_key"], KeySchema.of(("item_key", "S")), id="name-only"),
        pytest.param(
            ["RecordId:N", "ExecutionId"], KeySchema.of(("ExecutionId", "S"), ("RecordId", "N")), id="two"
        ),
        pytest.param(["val:b"], KeySchema.of(("val", "B")), id="lower-case-type"),
        pytest.param(["a:b:c"], KeySchema.of(("a:b:c", "S")), id="colon-in-name"),
    ],
)
def test_key_options(specs: list[str], expected: KeySchema) -> None:
    assert KeySchema.parse(specs) == expected


@pytest.mark.parametrize(
    "specs",
    [
        pytest.param([], id="none"),
        pytest.param(["a", "b", "c"], id="three"),
        pytest.param(["a", "a:N"], id="same-name"),
        pytest.param([":N"], id="no-name"),
    ],
)
def test_bad_key_options(specs: list[str]) -> None:
    with pytest.raises(InvalidItem, match="--key"):
        KeySchema.parse(specs)


@pytest.mark.parametrize(
    ("name", "type_", "role"),
    [
        pytest.param("", "S", None, id="no-name"),
        pytest.param("a", "BOOL", None, id="bad-type"),
        pytest.param("a", "S", "primary", id="bad-role"),
    ],
)
def test_a_key_attribute_is_checked_when_made(name: str, type_: Any, role: Any) -> None:
    with pytest.raises(ValueError):
        KeyAttribute(name, type_, role)
