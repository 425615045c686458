"""An item's identity from its table's key attributes, for any DynamoDB key schema.

Every path that names an item (a stream record's ``Keys``, its images, a KEYS_ONLY fetch, a
scan by `kotae backfill`, a line of `kotae load`) turns the key attribute values into one
string, the item key the index is keyed by, with these rules:

1. **Name order.** The key attributes are taken in the order of their names (code points, the
   same as UTF-8 byte order), never partition key first: a stream record's ``Keys`` do not say
   which attribute is the partition key, and DescribeTable paths must give the same string.
2. **One string attribute** encodes as the string itself, so tables keyed ``item_key`` (S) keep
   the keys their indexes already have.
3. **Numbers** are written in one canonical form, because DynamoDB compares numbers by value:
   ``1``, ``1.0`` and ``1E0`` are one key, ``"1"``. No exponent, no trailing zeros, no leading
   zeros, ``-0`` is ``0``; at most 38 significant digits, magnitude 1E-130 to below 1E+126.
4. **Binary** values are ``\\b:`` followed by their base64url text without padding. An encoded
   string component never holds ``\\b`` (see 5), so a binary component cannot equal a string one.
5. **Two attributes** (partition + sort key) join their encoded components with ``|``. Inside a
   string component ``\\`` is written ``\\\\`` and ``|`` is written ``\\|``, so the string can
   be split again: the encoding is injective and ``decode_key`` inverts it.
6. **Limits** are DynamoDB's: a key value is not empty, a partition key takes at most 2,048
   bytes and a sort key at most 1,024 (UTF-8 for strings, raw bytes for binary). Where the role
   is unknown (stream ``Keys`` of a two-attribute table), the partition key limit applies.

Examples: ``{"item_key": "faq-1"}`` -> ``faq-1``; ``{"Id": 101}`` -> ``101``;
``{"ExecutionId": "ex|1", "RecordId": 7}`` -> ``ex\\|1|7``; ``{"key": "a", "val": b"\\x01"}``
-> ``a|\\b:AQ``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from kotae.errors import InvalidItem, StoreError

KeyType = Literal["S", "N", "B"]
Role = Literal["partition", "sort"]
KEY_TYPES: tuple[KeyType, ...] = ("S", "N", "B")
_TYPE_NAMES = {"S": "a string (S)", "N": "a number (N)", "B": "binary (B)"}

# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html
PARTITION_KEY_BYTES = 2048
SORT_KEY_BYTES = 1024
MAX_DIGITS = 38
MIN_EXPONENT, MAX_EXPONENT = -130, 125  # adjusted exponent of DynamoDB's number range

SEPARATOR = "|"
ESCAPE = "\\"
BINARY_PREFIX = ESCAPE + "b:"
_CANONICAL_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class KeyAttribute:
    """One key attribute: its name, its DynamoDB type and, when known, its role."""

    name: str
    type: KeyType
    role: Role | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError("a key attribute has a non-empty name")
        if self.type not in KEY_TYPES:
            raise ValueError(f"key attribute {self.name!r}: type {self.type!r} is not S, N or B")
        if self.role not in (None, "partition", "sort"):
            raise ValueError(f"key attribute {self.name!r}: role {self.role!r} is not partition or sort")

    @property
    def max_bytes(self) -> int:
        return SORT_KEY_BYTES if self.role == "sort" else PARTITION_KEY_BYTES

    def __str__(self) -> str:
        return f"{self.name} ({self.type})"


@dataclass(frozen=True)
class KeySchema:
    """A table's key: one or two attributes, kept in name order (rule 1)."""

    attributes: tuple[KeyAttribute, ...]

    def __post_init__(self) -> None:
        attributes = tuple(sorted(self.attributes, key=lambda a: a.name))
        if not 1 <= len(attributes) <= 2:
            raise ValueError(f"a key has one or two attributes, not {len(attributes)}")
        if len({a.name for a in attributes}) != len(attributes):
            raise ValueError("the key attributes must have different names")
        object.__setattr__(self, "attributes", attributes)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.attributes)

    def matches(self, other: KeySchema) -> bool:
        """The same attribute names and types (roles, which stream keys lack, are not compared)."""
        return [(a.name, a.type) for a in self.attributes] == [(a.name, a.type) for a in other.attributes]

    def __str__(self) -> str:
        return " + ".join(str(a) for a in self.attributes)

    @classmethod
    def of(cls, *attributes: tuple[str, KeyType] | KeyAttribute) -> KeySchema:
        """``KeySchema.of(("ExecutionId", "S"), ("RecordId", "N"))``."""
        return cls(tuple(a if isinstance(a, KeyAttribute) else KeyAttribute(*a) for a in attributes))

    @classmethod
    def from_describe_table(cls, response: Mapping[str, Any]) -> KeySchema:
        """The key of a DescribeTable response (or of its ``Table`` part): KeySchema for the
        names and roles, AttributeDefinitions for the types."""
        table = response.get("Table", response) if isinstance(response, Mapping) else response
        try:
            types = {d["AttributeName"]: d["AttributeType"] for d in table["AttributeDefinitions"]}
            roles = {"HASH": "partition", "RANGE": "sort"}
            return cls(
                tuple(
                    KeyAttribute(k["AttributeName"], types[k["AttributeName"]], roles[k["KeyType"]])  # type: ignore[arg-type]
                    for k in table["KeySchema"]
                )
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            name = table.get("TableName", "the table") if isinstance(table, Mapping) else "the table"
            raise StoreError(f"cannot read the key schema of {name} from DescribeTable ({exc})") from exc

    @classmethod
    def from_stream_keys(cls, keys: Any) -> KeySchema:
        """The key of a stream record from its ``dynamodb.Keys``: attribute name -> one type tag.
        The roles stay unknown, which the encoding does not need (rule 1)."""
        if not isinstance(keys, Mapping) or not keys:
            raise InvalidItem("the record has no key attributes (dynamodb.Keys)")
        attributes = []
        try:
            for name, value in keys.items():
                tag = next(iter(value)) if isinstance(value, Mapping) and len(value) == 1 else None
                if tag not in KEY_TYPES:
                    raise ValueError(f"key attribute {str(name)[:64]!r} is not one S, N or B value")
                attributes.append(KeyAttribute(str(name), tag))  # type: ignore[arg-type]
            return cls(tuple(attributes))
        except ValueError as exc:
            raise InvalidItem(f"the record's key: {exc}") from exc

    @classmethod
    def parse(cls, specs: Iterable[str]) -> KeySchema:
        """From ``NAME`` or ``NAME:TYPE`` texts (type S when left out), as `kotae ingest --key`
        takes them: ``--key ExecutionId --key RecordId:N``."""
        attributes = []
        try:
            for spec in specs:
                name, colon, kind = spec.rpartition(":")
                if not colon or kind.upper() not in KEY_TYPES:
                    name, kind = spec, "S"
                attributes.append(KeyAttribute(name, kind.upper()))  # type: ignore[arg-type]
            return cls(tuple(attributes))
        except ValueError as exc:
            raise InvalidItem(f"--key: {exc}") from exc


def key_values(values: Mapping[str, Any], schema: KeySchema) -> dict[str, Any]:
    """The key attribute values of an item (or of stream ``Keys``, deserialized), checked
    against the schema: present, of the attribute's type, not empty, within DynamoDB's limits.
    Other attributes are ignored. Raises InvalidItem naming the attribute."""
    found = {}
    for attribute in schema.attributes:
        if attribute.name not in values or values[attribute.name] is None:
            raise InvalidItem(f"the item has no key attribute {attribute.name!r} ({schema} is the key)")
        value = values[attribute.name]
        _component(attribute, value, single=True)  # validates
        found[attribute.name] = value
    return found


def encode_key(values: Mapping[str, Any], schema: KeySchema) -> str:
    """The item key of these key attribute values (rules in the module docstring)."""
    single = len(schema.attributes) == 1
    key_values(values, schema)
    return SEPARATOR.join(_component(a, values[a.name], single=single) for a in schema.attributes)


def decode_key(text: str, schema: KeySchema) -> dict[str, Any]:
    """The key attribute values an item key was encoded from: str, Decimal or bytes.
    Raises InvalidItem for a text that ``encode_key`` cannot have produced for this schema."""
    if not isinstance(text, str) or not text:
        raise InvalidItem("an item key is a non-empty string")
    single = len(schema.attributes) == 1
    parts = [text] if single else _split(text)
    if len(parts) != len(schema.attributes):
        raise InvalidItem(
            f"item key {text[:80]!r} does not have the {len(schema.attributes)} parts of {schema}"
        )
    values = {
        a.name: _decode_component(a, part, single=single)
        for a, part in zip(schema.attributes, parts, strict=True)
    }
    if encode_key(values, schema) != text:
        raise InvalidItem(f"item key {text[:80]!r} is not in canonical form for {schema}")
    return values


def canonical_number(value: Any) -> str:
    """DynamoDB's number ``value`` (int, Decimal or finite float) in the one form rule 3 names."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError(f"not a number but {type(value).__name__}")
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        raise ValueError("not a finite number")
    sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    coefficient = list(digits)
    while len(coefficient) > 1 and coefficient[-1] == 0:
        coefficient.pop()
        exponent += 1
    if coefficient == [0]:
        return "0"
    adjusted = exponent + len(coefficient) - 1
    if len(coefficient) > MAX_DIGITS:
        raise ValueError(f"more than DynamoDB's {MAX_DIGITS} significant digits")
    if not MIN_EXPONENT <= adjusted <= MAX_EXPONENT:
        raise ValueError("outside DynamoDB's number range (1E-130 to below 1E+126)")
    return format(Decimal((sign, tuple(coefficient), exponent)), "f")


def describe_key_schema(client: Any, table: str) -> KeySchema:
    """The key schema of ``table``, read with DescribeTable through a boto3 DynamoDB client."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = client.describe_table(TableName=table)
    except (ClientError, BotoCoreError) as exc:
        raise StoreError(f"cannot read the key schema of table {table}: {exc}") from exc
    return KeySchema.from_describe_table(response)


def _component(attribute: KeyAttribute, value: Any, *, single: bool) -> str:
    """One attribute's encoded component; raises InvalidItem if the value cannot be that key."""
    where = f"key attribute {attribute.name!r}"
    if attribute.type == "N":
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            raise InvalidItem(f"{where} must be {_TYPE_NAMES['N']}, not {type(value).__name__}")
        try:
            return canonical_number(value)
        except ValueError as exc:
            raise InvalidItem(f"{where}: {exc}") from None
    if attribute.type == "S":
        if not isinstance(value, str):
            raise InvalidItem(f"{where} must be {_TYPE_NAMES['S']}, not {type(value).__name__}")
        try:
            size = len(value.encode("utf-8"))
        except UnicodeEncodeError:
            raise InvalidItem(f"{where} holds a lone surrogate, which is not Unicode text") from None
        _check_size(attribute, size)
        return value if single else value.replace(ESCAPE, ESCAPE * 2).replace(SEPARATOR, ESCAPE + SEPARATOR)
    raw = getattr(value, "value", value)  # boto3's Binary wrapper holds the bytes in .value
    if not isinstance(raw, bytes | bytearray):
        raise InvalidItem(f"{where} must be {_TYPE_NAMES['B']}, not {type(value).__name__}")
    _check_size(attribute, len(raw))
    return BINARY_PREFIX + base64.urlsafe_b64encode(bytes(raw)).decode("ascii").rstrip("=")


def _check_size(attribute: KeyAttribute, size: int) -> None:
    if size == 0:
        raise InvalidItem(f"key attribute {attribute.name!r} is empty; DynamoDB key values are not")
    if size > attribute.max_bytes:
        role = attribute.role or "partition"
        raise InvalidItem(
            f"key attribute {attribute.name!r} takes {size:,} bytes, over DynamoDB's "
            f"{attribute.max_bytes:,} for a {role} key"
        )


def _split(text: str) -> list[str]:
    """Components at each ``|`` that no ``\\`` escapes."""
    parts, start, index = [], 0, 0
    while index < len(text):
        if text[index] == ESCAPE:
            index += 2
        elif text[index] == SEPARATOR:
            parts.append(text[start:index])
            start = index = index + 1
        else:
            index += 1
    if index > len(text):
        raise InvalidItem("an item key ends in a lone escape character")
    parts.append(text[start:])
    return parts


def _decode_component(attribute: KeyAttribute, part: str, *, single: bool) -> Any:
    where = f"key attribute {attribute.name!r}"
    if attribute.type == "N":
        if not _CANONICAL_NUMBER.fullmatch(part):
            raise InvalidItem(f"{where}: {part[:80]!r} is not a canonical number")
        return Decimal(part)
    if attribute.type == "B":
        body = part[len(BINARY_PREFIX) :]
        if not part.startswith(BINARY_PREFIX) or not _BASE64URL.fullmatch(body) or len(body) % 4 == 1:
            raise InvalidItem(f"{where}: {part[:80]!r} is not {BINARY_PREFIX} and base64url")
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    if single:
        return part
    return re.sub(r"\\(.)", _unescape, part, flags=re.DOTALL)


def _unescape(match: re.Match[str]) -> str:
    if match.group(1) not in (ESCAPE, SEPARATOR):
        raise InvalidItem(f"an item key's string part holds the unknown escape {match.group(0)!r}")
    return match.group(1)
