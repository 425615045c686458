"""Reading knowledge items from JSONL: good lines go on, bad ones are reported by line number.

A file is what `kotae load` puts into the knowledge table and what `kotae ingest` indexes as if
it had come from there, so every line is held to the table's rules when it is parsed, never
later in SQLite, OpenSearch or boto3, where one bad line used to end the whole run:

- at most MAX_LINE_BYTES (1 MiB) a line, read in bounded pieces, so a runaway line costs no
  more memory than that; the parsed item must then fit DynamoDB's 400 KB item size. The line
  limit is wider than the item limit because JSON escapes grow text (``json.dumps`` writes each
  Japanese character as a 6-byte ``\\uXXXX`` escape for its 3 UTF-8 bytes).
- text is Unicode: a lone UTF-16 surrogate (``"\\ud800"``), which ``json.loads`` accepts but no
  UTF-8 encoder does, is refused, in attribute names as in values.
- numbers are DynamoDB numbers: finite (no NaN, Infinity or 1e999) and within 38 digits and
  1E-130..1E+126, checked with the decimal context boto3 writes them with.
- containers nest at most 32 levels, as in DynamoDB, and keys take at most 2,048 bytes.
- with the table's key schema (`kotae load`, `kotae ingest --key`), every line carries each key
  attribute with the table's type and within DynamoDB's key limits (kotae.records.keys); JSON
  has no binary, so a binary (B) key attribute is written ``{"B": "<base64>"}``, as DynamoDB
  JSON writes it. Without one, the key is the first of ``item_key``, ``key``, ``pk``, ``id``.

`ItemFile` reads a file twice so that, as with later writes to the table, the last good line
for a key (its encoded key) wins while only keys and line numbers are held, never the items.
"""

from __future__ import annotations

import base64
import binascii
import decimal
import json
import math
import os
import stat
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import IO, Any, TypeVar

from kotae.errors import InputError, InvalidItem
from kotae.models import Item
from kotae.records.keys import KeySchema
from kotae.records.schema import DEFAULT_SCHEMA, ItemSchema

# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html
MAX_ITEM_BYTES = 400 * 1024
MAX_KEY_BYTES = 2048  # partition key
MAX_DEPTH = 32  # nested attributes
MAX_LINE_BYTES = 1024 * 1024
_SKIP_CHUNK = 64 * 1024

# The context boto3 converts numbers with (boto3.dynamodb.types.DYNAMODB_CONTEXT).
_DYNAMODB_NUMBERS = decimal.Context(
    Emin=-128,
    Emax=126,
    prec=38,
    traps=[decimal.Clamped, decimal.Overflow, decimal.Inexact, decimal.Rounded, decimal.Underflow],
)

T = TypeVar("T")


@dataclass(frozen=True)
class LineError:
    line: int
    message: str


class _Refused(Exception):
    """Why a line cannot be an item; becomes its LineError."""


@dataclass(frozen=True)
class Rules:
    """How lines become items: the table's key schema (None: the KEY_FIELDS rule) and the item
    schema (kind attribute, default kind, attribute names)."""

    key_schema: KeySchema | None = None
    schema: ItemSchema = DEFAULT_SCHEMA


def read_items(path: Path, rules: Rules = Rules()) -> Iterator[tuple[int, Item | LineError]]:
    """Yield (line number, item or error) for every non-blank line, one line at a time."""
    with _open(path) as handle:
        for number, raw in _lines(handle):
            entry = _entry(number, raw, rules)
            if entry is not None:
                yield number, entry if isinstance(entry, LineError) else entry[0]


@dataclass
class ItemFile:
    """A JSONL file read in two passes, so that the last good line for a key wins.

    ``scan()`` reads every line, yields the bad ones and keeps each key's last good line
    number (a string and an int per key). ``items()`` then reads the file again and yields
    just those lines' items, in file order, each key once: a caller that writes them in
    batches cannot let an earlier line of a key overwrite a later one. A bad line supersedes
    nothing, as a failed write would not.
    """

    path: Path
    rules: Rules = Rules()
    last_line: dict[str, int] = field(default_factory=dict)
    good: int = 0
    rejected: int = 0
    _seen: tuple[int, int] | None = None

    @property
    def count(self) -> int:
        """Items that ``items()`` yields: one per key."""
        return len(self.last_line)

    @property
    def superseded(self) -> int:
        """Good lines left out because a later line has the same key."""
        return self.good - len(self.last_line)

    def scan(self) -> Iterator[LineError]:
        """First pass: yield each bad line's error and note each key's last good line."""
        self.last_line.clear()
        self.good = self.rejected = 0
        self._seen = None
        with _open_regular(self.path) as handle:
            seen = _identity(handle)
            for number, raw in _lines(handle):
                entry = _entry(number, raw, self.rules)
                if isinstance(entry, LineError):
                    self.rejected += 1
                    yield entry
                elif entry is not None:
                    self.good += 1
                    self.last_line[entry[0].key] = number
        self._seen = seen  # only a finished scan lets items() run

    def items(self) -> Iterator[Item]:
        """Second pass: the item of each key's last good line, lines in between left unparsed."""
        return (item for item, _ in self.lines())

    def lines(self) -> Iterator[tuple[Item, dict[str, Any]]]:
        """As ``items()``, each item with its line as parsed (the table's attribute names, binary
        key values as bytes): what `kotae load` writes."""
        if self._seen is None:
            raise RuntimeError("ItemFile.items() before a finished scan()")
        wanted = iter(sorted(self.last_line.values()))
        target = next(wanted, None)
        with _open_regular(self.path) as handle:
            if _identity(handle) != self._seen:
                raise self._changed()
            for number, raw in _lines(handle):
                if target is None:
                    return
                if number != target:
                    continue
                entry = _entry(number, raw, self.rules)
                if not isinstance(entry, tuple) or self.last_line.get(entry[0].key) != number:
                    raise self._changed()
                yield entry
                target = next(wanted, None)
        if target is not None:
            raise self._changed()

    def _changed(self) -> InputError:
        return InputError(f"{self.path} changed while it was being read; run the command again")


def batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of up to ``size`` items, taken from ``items`` as they are needed."""
    iterator = iter(items)
    while part := list(islice(iterator, size)):
        yield part


@contextmanager
def _open(path: Path) -> Iterator[IO[bytes]]:
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    with handle:
        yield handle


def _open_regular(path: Path) -> AbstractContextManager[IO[bytes]]:
    """Open a file that can be read twice; a pipe could not be, so it is refused up front
    (before opening, which would wait for a writer)."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    if not stat.S_ISREG(mode):
        raise InputError(
            f"cannot read {path}: not a regular file (it is read twice, to let the last line of "
            "a key win), so save the input to a file first"
        )
    return _open(path)


def _identity(handle: IO[bytes]) -> tuple[int, int]:
    info = os.fstat(handle.fileno())
    return info.st_size, info.st_mtime_ns


def _lines(handle: IO[bytes]) -> Iterator[tuple[int, bytes | None]]:
    """(line number, bytes) per line; None for a line over MAX_LINE_BYTES, whose rest is skipped
    in bounded pieces rather than read into memory."""
    number = 0
    while raw := handle.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):
                raw = handle.readline(_SKIP_CHUNK)
            yield number, None
        else:
            yield number, raw


def _entry(number: int, raw: bytes | None, rules: Rules) -> tuple[Item, dict[str, Any]] | LineError | None:
    """A line's item with its parsed value, its error, or None for a blank line."""
    try:
        return _parse(raw, rules)
    except _Refused as exc:
        return LineError(number, str(exc))


def _parse(raw: bytes | None, rules: Rules) -> tuple[Item, dict[str, Any]] | None:
    if raw is None:
        raise _Refused(f"longer than {MAX_LINE_BYTES:,} bytes; an item must fit DynamoDB's 400 KB")
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Refused(f"not UTF-8 ({exc.reason})") from None
    if not line.strip():
        return None
    try:
        value = json.loads(line.rstrip("\r\n"), parse_int=_int, parse_float=_float, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise _Refused(f"not valid JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise _Refused(f"nested too deeply (DynamoDB allows {MAX_DEPTH} levels)") from None
    if isinstance(value, dict):
        _check_item(value)
        if rules.key_schema is not None:
            value = _binary_keys(value, rules.key_schema)
    try:
        item = Item.from_mapping(value, key_schema=rules.key_schema, schema=rules.schema)
    except InvalidItem as exc:
        raise _Refused(str(exc)) from None
    size = len(item.key.encode("utf-8"))
    if rules.key_schema is None and size > MAX_KEY_BYTES:
        raise _Refused(f"the key takes {size:,} bytes, over DynamoDB's {MAX_KEY_BYTES:,} for a partition key")
    return item, value


def _binary_keys(value: dict[str, Any], key_schema: KeySchema) -> dict[str, Any]:
    """The line with each binary key attribute written ``{"B": "<base64>"}`` as bytes."""
    converted = dict(value)
    for attribute in key_schema.attributes:
        given = value.get(attribute.name)
        if attribute.type != "B" or not isinstance(given, dict):
            continue
        if list(given) != ["B"] or not isinstance(given["B"], str):
            raise _Refused(f'key attribute {attribute.name!r} is binary: write it {{"B": "<base64>"}}')
        try:
            converted[attribute.name] = base64.b64decode(given["B"], validate=True)
        except binascii.Error:
            raise _Refused(f"key attribute {attribute.name!r}: {_short(given['B'])} is not base64") from None
    return converted


def _int(text: str) -> int:
    _dynamodb_number(text)
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"the number {_short(text)} is too large to store")
    _dynamodb_number(repr(value))  # what `kotae load` would send: Decimal(str(value))
    return value


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number and cannot be stored")


def _dynamodb_number(text: str) -> None:
    try:
        _DYNAMODB_NUMBERS.create_decimal(text)
    except decimal.DecimalException:
        raise _Refused(
            f"the number {_short(text)} does not fit DynamoDB (38 digits, 1E-130 to 1E+126)"
        ) from None


def _short(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def _check_item(item: dict[str, Any]) -> None:
    """Refuse what the table cannot hold: lone surrogates, nesting over MAX_DEPTH, and items over
    MAX_ITEM_BYTES as DynamoDB sizes them (UTF-8 text, about a byte per two digits, 3 bytes a
    map or list and 1 an element). Walked with a stack, so depth costs no recursion."""
    size = 0
    stack: list[tuple[Any, int, str]] = [(value, 1, name) for name, value in item.items()]
    size += sum(_text_bytes(name, name) for name in item)
    while stack:
        node, depth, attribute = stack.pop()
        if isinstance(node, dict | list):
            if depth > MAX_DEPTH:
                raise _Refused(f"{_where(attribute)} nests deeper than DynamoDB's {MAX_DEPTH} levels")
            size += 3 + len(node)
            if isinstance(node, dict):
                size += sum(_text_bytes(name, attribute) for name in node)
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1, attribute) for child in children)
        elif isinstance(node, str):
            size += _text_bytes(node, attribute)
        elif isinstance(node, bool) or node is None:
            size += 1
        else:
            size += len(repr(node)) // 2 + 1
        if size > MAX_ITEM_BYTES:
            raise _Refused(f"the item is over DynamoDB's {MAX_ITEM_BYTES // 1024} KB item size")


def _text_bytes(text: str, attribute: str) -> int:
    if text.isascii():
        return len(text)
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise _Refused(
            f"{_where(attribute)} holds a lone surrogate (\\u{ord(text[exc.start]):04x}), "
            "which is not Unicode text; fix the text where the file was written"
        ) from None


def _where(attribute: str) -> str:
    return f"attribute {_short(ascii(attribute), 40)}"
