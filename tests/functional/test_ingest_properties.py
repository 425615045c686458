"""Property-based tests of the ingest Lambda: arbitrary item shapes never crash it, and every
stream record is either applied to the index or reported in ``batchItemFailures``.

Two paths: raw Lambda events built here as JSON (fast, no AWS, garbage records included), and
items written to a moto table whose stream is read back through the Streams API.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from boto3.dynamodb.types import Binary, TypeSerializer
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ingest.runtime import runtime
from kotae.indexing.render import DocumentRenderer
from kotae.indexing.streams import deserialize_image
from kotae.models import KEY_FIELDS, Item
from kotae.records.keys import KeySchema
from tests.conftest import PROMPTS
from tests.functional import test_ingest_handler as base
from tests.standins.streams import as_lambda_json, knowledge_table

env = base.env  # the Lambda's configuration: Titan (stand-in), SQLite index, the knowledge table
invoke, index_state = base.invoke, base.index_state

SERIALIZE = TypeSerializer().serialize
ITEM_KEY = KeySchema.of(("item_key", "S"))  # the knowledge table's key: other key-like names are attributes
RENDERER = DocumentRenderer(PROMPTS, chunk_chars=200, chunk_overlap=20)  # as configured by `env`
ARN = "arn:aws:dynamodb:ap-northeast-1:123456789012:table/knowledge/stream/2026-01-01T00:00:00.000"
SEQUENCE = itertools.count(1)
EXAMPLE = itertools.count(1)

FAST = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
SLOW = settings(FAST, max_examples=15)


# -- strategies: attribute values DynamoDB accepts -------------------------------------------------

JAPANESE = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x3041, max_codepoint=0x30FF),  # kana
        st.sampled_from("漢字日本語設定方法申請経費精算株式会社。、！？「」（）ー・　"),
    ),
    max_size=40,
)
TEXT = st.one_of(
    st.text(max_size=40),  # any surrogate-free unicode, the empty string included
    JAPANESE,
    st.sampled_from(["", " ", "\n", "VPN の設定方法", "(株)ほし", "a. b. c.", "{{ key }}", "{% raw %}"]),
    # long enough for several chunks, with and without sentence ends
    st.builds(lambda s, n: (s + " ") * n, st.text(min_size=1, max_size=30), st.integers(5, 25)),
    st.builds(lambda s, n: (s + "。") * n, JAPANESE.filter(bool), st.integers(5, 20)),
)


@st.composite
def dynamo_numbers(draw: st.DrawFn) -> Decimal:
    """Up to 38 significant digits, magnitude 1E-130 .. 9.99E+125 (DynamoDB's Number range)."""
    digits = draw(st.integers(1, 38))
    coefficient = draw(st.integers(10 ** (digits - 1), 10**digits - 1))
    # the adjusted exponent stays in DynamoDB's range; boto3 cannot go below 1E-165 for the last digit
    exponent = draw(st.integers(max(-130 - (digits - 1), -165), 125 - (digits - 1)))
    sign = "-" if draw(st.booleans()) else ""
    return Decimal(f"{sign}{coefficient}E{exponent}")


NUMBERS = st.one_of(
    dynamo_numbers(),
    st.integers(-(10**38) + 1, 10**38 - 1),
    st.sampled_from(
        [
            Decimal(0),
            Decimal("1E+125"),
            Decimal("-1E-130"),
            Decimal("9.9999999999999999999999999999999999999E+125"),
            Decimal("-" + "9" * 38),
            Decimal("0." + "1234567890" * 3 + "12345678"),
            Decimal("3.14"),
        ]
    ),
)
BINARY = st.binary(max_size=24)
SCALARS = st.one_of(TEXT, NUMBERS, st.booleans(), st.none(), BINARY)
SETS = st.one_of(
    st.sets(TEXT, min_size=1, max_size=4),  # empty strings are allowed inside a set
    st.sets(NUMBERS, min_size=1, max_size=4),
    st.sets(BINARY, min_size=1, max_size=4),
)
MAP_KEYS = st.one_of(st.text(min_size=1, max_size=12), st.sampled_from(["name", "title", "ja", "値"]))
VALUES = st.recursive(
    st.one_of(SCALARS, SETS),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(MAP_KEYS, children, max_size=4)
    ),
    max_leaves=12,
)
MOSTLY_TEXT = st.one_of(TEXT, TEXT, VALUES)  # template fields: usually text, sometimes any shape

KEYS = st.one_of(
    st.text(min_size=1, max_size=20),
    st.sampled_from(["faq-1", "ＶＰＮ", "a#0001", "キー", " ", "r/1"]),
)
KINDS = st.one_of(
    st.none(),  # no kind attribute
    st.sampled_from(["faq", "record", "mystery", "", "generic", "passage", "faq/x", "../faq", "FAQ"]),
    st.text(max_size=16),
)
# Visibility is set on purpose: readable scopes here, unreadable ones as the "bad_scopes" garbage.
SCOPE_LIKE = re.compile(r"scopes?|visibility|visiblescopes|allowedscopes")
SCOPES = st.one_of(TEXT.filter(str.strip), st.lists(TEXT.filter(str.strip), min_size=1, max_size=3))
# random attribute names; item_key, kind and scopes are set on purpose, everything else may appear
ATTR_NAMES = st.one_of(
    st.text(min_size=1, max_size=12),
    st.sampled_from(["question", "answer", "tags", "title", "name", "url", "lang", "updated_at", "key", "id"]),
).filter(
    lambda name: name not in ("item_key", "kind") and not SCOPE_LIKE.fullmatch(re.sub(r"[^a-z]", "", name.lower()))
)
RECORD_FIELDS = (
    "record_id",
    "execution_id",
    "task_name",
    "input_value",
    "normalized_output",
    "status",
    "updated_at",
    "error",
    "prompt_version",
)


@st.composite
def items(draw: st.DrawFn, keys: st.SearchStrategy[str] = KEYS) -> dict[str, Any]:
    """An item the table accepts: a faq, a record or nothing in particular, right or wrong shape."""
    item: dict[str, Any] = {"item_key": draw(keys)}
    kind = draw(KINDS)
    if kind is not None:
        item["kind"] = kind
    shape = draw(st.sampled_from(["faq", "record", "anything"]))
    if shape == "faq":
        item["question"], item["answer"] = draw(MOSTLY_TEXT), draw(MOSTLY_TEXT)
        if draw(st.booleans()):
            item["tags"] = draw(st.one_of(st.lists(TEXT, max_size=4), VALUES))
    elif shape == "record":
        for name in RECORD_FIELDS:
            if draw(st.integers(0, 3)):  # most fields present
                item[name] = draw(MOSTLY_TEXT)
    if draw(st.booleans()):
        item["scopes"] = draw(SCOPES)
    for name, value in draw(st.dictionaries(ATTR_NAMES, VALUES, max_size=5)).items():
        item.setdefault(name, value)
    return item


# Items with the shapes the issue names, used as explicit examples on both paths.
EXAMPLE_ITEMS: list[dict[str, Any]] = [
    {
        "item_key": "digits",
        "kind": "record",
        "record_id": Decimal("12345678901234567890123456789012345678"),
        "execution_id": 10**37 + 7,
        "task_name": "t",
        "input_value": Decimal("-0.12345678901234567890123456789012345678"),
        "normalized_output": {"max": Decimal("9.9999999999999999999999999999999999999E+125")},
        "status": Decimal("1E+125"),
        "updated_at": Decimal("-1E-130"),
    },
    {"item_key": "empty", "kind": "faq", "question": "", "answer": "", "note": ""},
    {"item_key": "hollow", "kind": "mystery", "things": [], "props": {}, "nested": {"a": [[], {}]}},
    {"item_key": "unknown", "kind": "どれでもない", "title": "未知の種類", "n": Decimal("3.14")},
    {
        "item_key": "bin",
        "blobs": {b"\x00", b"\xff\xfe", b""},
        "blob": b"\x89PNG",
        "nums": {1, Decimal("2.5")},
    },
    {"item_key": "odd", "kind": "faq", "question": {"ja": "質問"}, "answer": [1, None], "tags": "x"},
    {"item_key": "sets", "kind": "faq", "question": "Q?", "answer": "A.", "tags": {"b", "a", ""}},
]


# -- raw Lambda events ---------------------------------------------------------------------------


def _json_default(value: Any) -> str:
    if isinstance(value, Binary):
        value = value.value
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    raise TypeError(type(value).__name__)


def lambda_image(item: dict[str, Any]) -> dict[str, Any]:
    """An item as a Lambda event carries it: DynamoDB JSON, binary values base64-encoded."""
    return json.loads(json.dumps({k: SERIALIZE(v) for k, v in item.items()}, default=_json_default))


# Garbage a batch may contain, and whether Kotae can still apply the record.
GARBAGE = (
    "event_name", "no_event_name", "no_keys", "bad_key", "bad_image_value", "image_without_key", "bad_scopes",
)  # fmt: skip
BAD_KEYS = ({"Q": "x"}, {"S": ""}, {"BOOL": True}, {"L": "abc"})
BAD_VALUES = ({"Q": "x"}, {"L": "abc"}, {"M": ["x"]}, {"SS": 5}, {"M": {"a": {"Z": 1}}})
# Visibility that must never become public (issue 11): as attribute name, attribute value.
BAD_SCOPES = (
    ("scopes", {"L": []}), ("scopes", {"NULL": True}), ("scopes", {"S": ""}),
    ("scope", {"SS": ["hr"]}), ("Scopes", {"L": [{"S": "hr"}]}), ("scopes", {"L": [{"L": []}]}),
)  # fmt: skip


@dataclass(frozen=True)
class Spec:
    event: str  # INSERT, MODIFY or REMOVE
    item: dict[str, Any]
    garbage: str | None = None
    variant: int = 0  # which bad key / bad value


def build(spec: Spec, sequence: str) -> tuple[dict[str, Any], bool]:
    """The Lambda record for a spec, and whether it is a valid change Kotae must apply."""
    image = lambda_image(spec.item)
    keys = {"item_key": image["item_key"]}
    valid = True
    if spec.garbage == "bad_image_value":
        image["broken"] = copy.deepcopy(BAD_VALUES[spec.variant % len(BAD_VALUES)])
        valid = spec.event == "REMOVE"  # a REMOVE never reads the image
    elif spec.garbage == "bad_scopes":
        name, value = BAD_SCOPES[spec.variant % len(BAD_SCOPES)]
        image.pop("scopes", None)
        image[name] = copy.deepcopy(value)
        valid = spec.event == "REMOVE"
    elif spec.garbage == "image_without_key":
        image = {k: v for k, v in image.items() if k not in KEY_FIELDS}
        valid = spec.event == "REMOVE"
    elif spec.garbage == "bad_key":
        keys = {"item_key": copy.deepcopy(BAD_KEYS[spec.variant % len(BAD_KEYS)])}
        valid = False
    dynamodb: dict[str, Any] = {
        "ApproximateCreationDateTime": 1767225600,
        "Keys": keys,
        "SequenceNumber": sequence,
        "SizeBytes": 100,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    dynamodb["OldImage" if spec.event == "REMOVE" else "NewImage"] = image
    if spec.garbage == "no_keys":
        del dynamodb["Keys"]
        valid = False
    record: dict[str, Any] = {
        "eventID": f"ev-{sequence}",
        "eventName": spec.event,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "ap-northeast-1",
        "dynamodb": dynamodb,
        "eventSourceARN": ARN,
    }
    if spec.garbage == "event_name":
        record["eventName"] = ("UPSERT", "", "insert", "remove", "TTL")[spec.variant % 5]
        valid = False
    elif spec.garbage == "no_event_name":
        del record["eventName"]
        valid = False
    return record, valid


def next_sequence() -> str:
    """Unique, increasing, of the length real stream sequence numbers have."""
    return str(4 * 10**20 + 10 * next(SEQUENCE))


@st.composite
def batches(draw: st.DrawFn) -> list[Spec]:
    keys = draw(st.lists(KEYS, min_size=1, max_size=3, unique=True))
    specs = []
    for _ in range(draw(st.integers(1, 7))):
        event = draw(st.sampled_from(["INSERT", "MODIFY", "REMOVE"]))
        garbage = draw(st.sampled_from([None] * 8 + list(GARBAGE)))
        specs.append(Spec(event, draw(items(st.sampled_from(keys))), garbage, draw(st.integers(0, 9))))
    return specs


def rendered(image: dict[str, Any]) -> list[str]:
    """The chunk texts the index must hold for an image, deserialized as the handler does."""
    item = Item.from_mapping(deserialize_image(image), key_schema=ITEM_KEY)
    return [d.text for d in RENDERER.render(item)]


@contextmanager
def fresh_index(monkeypatch: pytest.MonkeyPatch, root: Path) -> Iterator[None]:
    """A new empty index for one hypothesis example (the fixtures are per test, not per example)."""
    data_dir = root / f"example-{next(EXAMPLE)}"
    monkeypatch.setenv("KOTAE_DATA_DIR", str(data_dir))
    runtime.cache_clear()
    try:
        yield
    finally:
        if runtime.cache_info().currsize:
            runtime().kotae.store.close()
        runtime.cache_clear()
        shutil.rmtree(data_dir, ignore_errors=True)


def assert_applied_or_reported(specs: list[Spec]) -> None:
    """Invoke the handler with a batch; every record is applied, or reported and not applied."""
    built = [(spec, *build(spec, next_sequence())) for spec in specs]
    event = {"Records": [record for _, record, _ in built]}
    result = invoke(copy.deepcopy(event))  # never raises
    failed = [f["itemIdentifier"] for f in result["batchItemFailures"]]
    assert set(result) == {"batchItemFailures"}
    assert failed == [r["dynamodb"]["SequenceNumber"] for _, r, valid in built if not valid]
    # The last applied record of each key decides what the index holds for it.
    expected: dict[str, list[str]] = {}
    for spec, record, valid in built:
        if not valid:
            continue
        key = spec.item["item_key"]
        if spec.event == "REMOVE":
            expected.pop(key, None)
        else:
            expected[key] = rendered(record["dynamodb"]["NewImage"])
    store = runtime().kotae.store
    assert index_state(store) == dict(sorted(expected.items()))
    for key in expected:
        state = store.state(key)
        assert state is not None and all(state.has_vector.values()), f"{key!r} has chunks without vectors"


# -- A: raw events, garbage included ----------------------------------------------------------------


@FAST
@given(batch=batches())
@example(batch=[Spec("INSERT", item) for item in EXAMPLE_ITEMS])
@example(
    batch=[
        Spec("INSERT", EXAMPLE_ITEMS[1]),
        Spec("MODIFY", {**EXAMPLE_ITEMS[1], "answer": "Now answered."}),
        Spec("REMOVE", EXAMPLE_ITEMS[2]),
        Spec("MODIFY", EXAMPLE_ITEMS[4], "bad_image_value"),
        Spec("REMOVE", EXAMPLE_ITEMS[3], "bad_key"),
        Spec("INSERT", EXAMPLE_ITEMS[3], "event_name"),
        Spec("MODIFY", EXAMPLE_ITEMS[0], "no_keys"),
    ]
)
def test_any_batch_is_applied_or_reported(env, monkeypatch, tmp_path, batch: list[Spec]) -> None:
    with fresh_index(monkeypatch, tmp_path):
        assert_applied_or_reported(batch)


def test_a_one_megabyte_string_in_a_raw_record(env, monkeypatch, tmp_path) -> None:
    # DynamoDB itself stops at 400 KB per item; a raw event is the only way to hand over 1 MB.
    big = {"item_key": "big", "kind": "mystery", "body": "VPN の設定. " * 100_000}
    assert len(big["body"].encode()) > 1_000_000
    with fresh_index(monkeypatch, tmp_path):
        assert_applied_or_reported(
            [
                Spec("INSERT", big),
                Spec(
                    "INSERT",
                    {"item_key": "faq-big", "kind": "faq", "question": "Q?", "answer": "x" * 1_000_000},
                ),
                Spec("INSERT", EXAMPLE_ITEMS[1]),
            ]
        )
        assert len(runtime().kotae.store.documents("big")) > 1000


@pytest.mark.parametrize(
    "value",
    [{}, {"N": "abc"}, {"N": "1E+200"}, {"N": "1E-200"}, {"N": "1." + "1" * 38}],
    ids=["empty-value", "not-a-number", "too-large", "too-small", "39-digits"],
)
def test_an_undeserializable_value_fails_only_its_record(env, monkeypatch, tmp_path, value) -> None:
    # Not something DynamoDB writes; a corrupted or hand-made event must still fail only its record.
    with fresh_index(monkeypatch, tmp_path):
        bad = next_sequence()
        record, _ = build(Spec("INSERT", {"item_key": "bad", "kind": "faq"}), bad)
        record["dynamodb"]["NewImage"]["weird"] = value
        good, _ = build(Spec("INSERT", EXAMPLE_ITEMS[1]), next_sequence())
        assert invoke({"Records": [record, good]}) == {"batchItemFailures": [{"itemIdentifier": bad}]}
        assert list(runtime().kotae.store.item_keys()) == ["empty"]


def test_a_record_without_dynamodb_does_not_crash_the_handler(env, monkeypatch, tmp_path) -> None:
    with fresh_index(monkeypatch, tmp_path):
        good, _ = build(Spec("INSERT", EXAMPLE_ITEMS[1]), next_sequence())
        invoke({"Records": [{"eventName": "INSERT", "eventSource": "aws:dynamodb"}, good]})
        assert list(runtime().kotae.store.item_keys()) == ["empty"]


def test_binary_values_in_a_lambda_event_are_not_indexed_as_text(env, monkeypatch, tmp_path) -> None:
    blob = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
    with fresh_index(monkeypatch, tmp_path):
        record, _ = build(
            Spec("INSERT", {"item_key": "img", "kind": "mystery", "thumbnail": blob}), next_sequence()
        )
        assert invoke({"Records": [record]}) == {"batchItemFailures": []}
        text = " ".join(index_state(runtime().kotae.store)["img"])
        assert base64.b64encode(blob).decode()[:20] not in text
        assert f"<{len(blob)} bytes>" in text


# -- B: through moto and the Streams API ------------------------------------------------------------


def table_state(table) -> dict[str, list[str]]:
    """Every table item's chunk texts (as base.table_state, deserialized as the handler does)."""
    out = {}
    for raw in table.client.scan(TableName=table.name)["Items"]:
        item = Item.from_mapping(deserialize_image(as_lambda_json(raw)), key_schema=ITEM_KEY)
        out[item.key] = [d.text for d in RENDERER.render(item)]
    return dict(sorted(out.items()))


@st.composite
def histories(draw: st.DrawFn) -> list[list[tuple[str, Any]]]:
    """Batches of puts (inserts and modifies) and deletes over a few keys."""
    keys = st.sampled_from(draw(st.lists(KEYS, min_size=1, max_size=4, unique=True)))
    operation = st.one_of(
        st.tuples(st.just("put"), items(keys)),
        st.tuples(st.just("put"), items(keys)),
        st.tuples(st.just("delete"), keys),
    )
    return draw(st.lists(st.lists(operation, min_size=1, max_size=5), min_size=1, max_size=3))


def assert_index_follows(history: list[list[tuple[str, Any]]]) -> None:
    with knowledge_table() as table:
        for batch in history:
            for op, arg in batch:
                table.put(arg) if op == "put" else table.delete(arg)
            event = table.read_event()
            if event["Records"]:  # (deleting a missing item writes no record; Lambda sends no empty batch)
                assert invoke(event) == {"batchItemFailures": []}
            store = runtime().kotae.store
            assert index_state(store) == table_state(table)
            for key in store.item_keys():
                assert all(store.state(key).has_vector.values())


@SLOW
@given(history=histories())
@example(
    history=[
        [("put", item) for item in EXAMPLE_ITEMS],
        [("put", {**EXAMPLE_ITEMS[1], "answer": "Now answered."}), ("delete", "hollow"), ("delete", "never")],
        [("put", {"item_key": "bin", "kind": "faq"}), ("delete", "digits"), ("put", EXAMPLE_ITEMS[0])],
    ]
)
def test_the_index_follows_the_table_for_any_items(env, monkeypatch, tmp_path, history) -> None:
    with fresh_index(monkeypatch, tmp_path):
        assert_index_follows(history)


def test_a_350_kb_string_through_the_stream(env, monkeypatch, tmp_path) -> None:
    body = "経費精算の申請方法。" * 11_000 + "x" * 20_000  # ~350 KB of UTF-8: within DynamoDB's 400 KB
    assert 330_000 < len(body.encode()) < 390_000
    with fresh_index(monkeypatch, tmp_path):
        assert_index_follows(
            [
                [("put", {"item_key": "big", "kind": "mystery", "body": body})],
                [("put", {"item_key": "big", "kind": "faq", "question": "Q?", "answer": body[:1000]})],
            ]
        )
