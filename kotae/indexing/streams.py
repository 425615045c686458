"""DynamoDB Streams records into index changes, with embeddings fetched for the whole batch first.

The ingest Lambda runs a batch in two phases:

1. ``prefetch``: every record is parsed and planned (one store read per key), and the texts
   that need embedding (changed chunks only) are embedded concurrently, each text on its own,
   so one bad text fails one record, not the batch.
2. per record, in stream order (Powertools batch processing): the item is written from its
   plan, its embeddings from the cache. A record whose key an earlier record of the batch has
   already written is planned again, against the store as it is now.

Record versions are stream sequence numbers, so a replayed or older record never overwrites a
newer one (the store refuses it) and replaying a batch changes nothing.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from boto3.dynamodb.types import TypeDeserializer

from kotae.errors import InvalidItem, KotaeError
from kotae.indexing.indexer import Indexer, IndexResult, Plan, embedding_text
from kotae.models import Item
from kotae.providers.base import Embedder, ItemState, Purpose, Vector
from kotae.records.keys import KeySchema, encode_key
from kotae.records.schema import DEFAULT_SCHEMA, ItemSchema


class InvalidRecord(KotaeError):
    """A stream record that cannot be turned into an index change."""


class TableReader(Protocol):
    """The knowledge table, read for streams whose records carry no new image."""

    name: str

    def key_schema(self) -> KeySchema:
        """The table's key (DescribeTable), read once and kept."""
        ...

    def get(self, keys: dict[str, Any]) -> dict[str, Any] | None:
        """The item with these key values (deserialized), read consistently; None if gone."""
        ...


@dataclass(frozen=True)
class Change:
    action: Literal["upsert", "remove"]
    key: str
    version: str | None
    item: Item | None = None
    event: str = ""
    ttl_expiry: bool = False


_deserializer = TypeDeserializer()


def _value(attribute: dict[str, Any]) -> Any:
    """One attribute value of a Lambda stream event. Lambda delivers B and BS base64-encoded
    (unlike the SDK), so they are decoded to bytes here; the rest is boto3's deserializer."""
    if not isinstance(attribute, dict) or len(attribute) != 1:
        raise ValueError("an attribute value is an object with one type key")
    ((kind, raw),) = attribute.items()
    if kind == "B":
        return base64.b64decode(raw, validate=True)
    if kind == "BS":
        return frozenset(base64.b64decode(v, validate=True) for v in raw)
    if kind == "M":
        return {str(k): _value(v) for k, v in raw.items()}
    if kind == "L":
        return [_value(v) for v in raw]
    value = _deserializer.deserialize(attribute)
    if kind == "N" and not value.is_finite():  # boto3 turns "abc" into NaN instead of failing
        raise ValueError("not a number")
    return value


def deserialize_image(image: dict[str, Any]) -> dict[str, Any]:
    return {str(name): _value(attribute) for name, attribute in image.items()}


def parse_record(
    record: Any, table: TableReader | None = None, *, schema: ItemSchema = DEFAULT_SCHEMA
) -> Change:
    """A Powertools DynamoDBRecord into a Change.

    The item's identity is the record's ``dynamodb.Keys`` with their types, encoded as
    kotae.records.keys says, so a REMOVE, a replay and a fetched item find the same key.
    NEW_AND_OLD_IMAGES and NEW_IMAGE carry the new item. KEYS_ONLY and OLD_IMAGE do not: the
    item is then read from the table (``table``), and if it is gone by then, it is removed.
    """
    event = str(record.get("eventName") or "")
    if event not in ("INSERT", "MODIFY", "REMOVE"):
        raise InvalidRecord(f"unknown event name {event[:40]!r}")
    stream = record.get("dynamodb") or {}
    version = stream.get("SequenceNumber")
    key_schema, keys, key = _record_key(event, stream)
    if event == "REMOVE":
        identity = record.get("userIdentity") or {}
        ttl = identity.get("type") == "Service" and identity.get("principalId") == "dynamodb.amazonaws.com"
        return Change("remove", key, version, event=event, ttl_expiry=ttl)
    try:
        image = deserialize_image(stream.get("NewImage") or {})
    except _MALFORMED as exc:
        raise InvalidRecord(f"{event} record with malformed attribute values ({type(exc).__name__})") from exc
    if not image:
        fetched = _fetch(event, stream, table, key_schema, keys)
        if fetched is None:
            return Change("remove", key, version, event=event)
        image = fetched
    try:
        item = Item.from_mapping(image, key_schema=key_schema, schema=schema)
    except InvalidItem as exc:
        raise InvalidRecord(f"{event} {key}: {exc}") from exc
    if item.key != key:
        raise InvalidRecord(f"{event} {key}: the item's key attributes are not the record's Keys")
    return Change("upsert", key, version, item=item, event=event)


_MALFORMED = (TypeError, ValueError, KeyError, AttributeError, IndexError, ArithmeticError)


def _record_key(event: str, stream: dict[str, Any]) -> tuple[KeySchema, dict[str, Any], str]:
    """(key schema, key values, item key) of a record, from its ``dynamodb.Keys``."""
    raw_keys = stream.get("Keys")
    if not raw_keys:
        raise InvalidRecord(f"{event} record without dynamodb keys")
    try:
        key_schema = KeySchema.from_stream_keys(raw_keys)
        keys = deserialize_image(raw_keys)
        return key_schema, keys, encode_key(keys, key_schema)
    except InvalidItem as exc:
        raise InvalidRecord(f"{event} record: {exc}") from exc
    except _MALFORMED as exc:
        raise InvalidRecord(f"{event} record with malformed key values ({type(exc).__name__})") from exc


def _fetch(
    event: str, stream: dict[str, Any], table: TableReader | None, key_schema: KeySchema, keys: dict[str, Any]
) -> dict[str, Any] | None:
    """The item of a record that carries no new image, read from the table by its Keys, once
    the record's key is known to be the table's."""
    if table is None:
        view = str(stream.get("StreamViewType") or "unknown")[:40]
        raise InvalidRecord(
            f"stream view type {view} carries no new image; set KOTAE_KNOWLEDGE_TABLE so the item "
            "can be read from the table, or use NEW_AND_OLD_IMAGES"
        )
    expected = table.key_schema()
    if not expected.matches(key_schema):
        raise InvalidRecord(
            f"{event} record keyed {key_schema} cannot be read from table {table.name}, keyed "
            f"{expected}: KOTAE_KNOWLEDGE_TABLE must name the table whose stream this is"
        )
    return table.get(keys)


class PrefetchingEmbedder:
    """Wraps an embedder: ``prefetch`` embeds texts concurrently into a cache, ``embed`` reads it.

    Failures during prefetch are not raised; the text is simply not cached and ``embed`` asks
    the real embedder again, so the failure lands on the record that needs it.
    """

    def __init__(self, inner: Embedder, concurrency: int = 8) -> None:
        self.inner = inner
        self.name, self.dimensions, self.languages = inner.name, inner.dimensions, inner.languages
        self.concurrency = concurrency
        self._cache: dict[str, Vector] = {}

    def _one(self, text: str) -> tuple[str, Vector | None]:
        try:
            return text, self.inner.embed([text], purpose="document")[0]
        except KotaeError:
            return text, None

    def prefetch(self, texts: Sequence[str]) -> int:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if not missing:
            return 0
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(missing))) as pool:
            for text, vector in pool.map(self._one, missing):
                if vector is not None:
                    self._cache[text] = vector
        return len(missing)

    def embed(self, texts: Sequence[str], *, purpose: Purpose = "document") -> list[Vector]:
        missing = [t for t in texts if t not in self._cache]
        if missing:
            for text, vector in zip(missing, self.inner.embed(missing, purpose=purpose), strict=True):
                self._cache[text] = vector
        return [self._cache[t] for t in texts]

    def clear(self) -> None:
        self._cache.clear()


@dataclass(frozen=True)
class _Prepared:
    """What prefetch worked out for one record: its change and, for an upsert, its plan."""

    record: Any  # the raw record, to recognise it in apply
    change: Change
    plan: Plan | None  # None for a remove, or when planning failed (apply plans, and fails, again)


def _raw(record: Any) -> Any:
    """The record's event dict (a Powertools DynamoDBRecord wraps one; tests may pass it bare)."""
    return getattr(record, "raw_event", record)


def _sequence_number(record: Any) -> str | None:
    stream = record.get("dynamodb")
    number = stream.get("SequenceNumber") if isinstance(stream, dict) else None
    return number if isinstance(number, str) else None


def _written_key(change: Change) -> str:
    """The key whose store state applying the change touches (an upsert writes its item's key)."""
    return change.item.key if change.item is not None else change.key


class StreamIngestor:
    """Applies stream changes through the shared Indexer, planning each record once.

    ``prefetch`` parses and plans every record, reading each key's store state once, and keeps
    the results by sequence number; ``apply`` reuses them. A plan is only valid while the store
    holds what it was made from, so once a record of a key has been applied, later records of
    that key are planned again against the store as it is then. That keeps stream order,
    stale-version refusal and replays exactly as if every record were planned at apply time,
    with at most one state read per record: one per key in prefetch, one per re-plan in apply.
    """

    def __init__(
        self, indexer: Indexer, table: TableReader | None = None, *, schema: ItemSchema = DEFAULT_SCHEMA
    ) -> None:
        self.indexer = indexer
        self.table = table
        self.schema = schema
        self._prepared: dict[str, _Prepared] = {}
        self._written: set[str] = set()  # keys applied since the last prefetch

    def prefetch(self, records: Sequence[Any]) -> int:
        """Plan every record and embed, concurrently, every changed text the batch will need.

        Returns the number of texts embedded. A record that fails here is left alone: apply
        parses it again and its failure is reported there, for that record only.
        """
        self._prepared.clear()
        self._written.clear()
        numbers = [_sequence_number(record) for record in records]
        repeated = {n for n, count in Counter(numbers).items() if count > 1}
        states: dict[str, ItemState | None] = {}  # one read per key serves all its records here
        texts: list[str] = []
        for record, number in zip(records, numbers, strict=True):
            if number is None or number in repeated:
                continue  # cannot be told apart in apply: planned there instead
            prepared = self._prepare(record, states)
            if prepared is not None:
                self._prepared[number] = prepared
                if prepared.plan is not None:
                    texts.extend(embedding_text(d) for d in prepared.plan.todo)
        embedder = self.indexer.embedder
        if not isinstance(embedder, PrefetchingEmbedder):
            return 0
        embedder.clear()
        return embedder.prefetch(texts)

    def _prepare(self, record: Any, states: dict[str, ItemState | None]) -> _Prepared | None:
        """Parse and plan one record, reading its item's state only if no record before did."""
        try:
            change = parse_record(record, self.table, schema=self.schema)
        except Exception:  # any failure is raised again, for this record, by apply
            return None
        item, plan = change.item, None
        if item is not None:
            try:
                if item.key not in states:
                    states[item.key] = self.indexer.store.state(item.key)
                plan = self.indexer.plan_against(item, change.version, states[item.key])
            except Exception:  # as above: apply plans again and fails there
                plan = None
        return _Prepared(_raw(record), change, plan)

    def apply(self, record: Any) -> tuple[Change, IndexResult]:
        """Apply one record, in stream order; raises if it cannot be applied."""
        prepared = self._take(record)
        change = (
            prepared.change if prepared is not None else parse_record(record, self.table, schema=self.schema)
        )
        key = _written_key(change)
        plan = prepared.plan if prepared is not None and key not in self._written else None
        self._written.add(key)
        if change.action == "remove":
            return change, self.indexer.remove(change.key, version=change.version)
        assert change.item is not None
        if plan is None:
            plan = self.indexer.plan(change.item, change.version)
        return change, self.indexer.write([plan])[0]

    def _take(self, record: Any) -> _Prepared | None:
        """The prefetched work for this very record, once; None if there is none."""
        number = _sequence_number(record)
        prepared = self._prepared.pop(number, None) if number is not None else None
        if prepared is None:
            return None
        raw = _raw(record)
        return prepared if prepared.record is raw or prepared.record == raw else None
