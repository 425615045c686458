"""Typed values that travel through the core. Raw dicts are parsed into these at the boundary."""

from __future__ import annotations

import re
from collections.abc import Collection
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kotae.errors import InvalidItem
from kotae.records.keys import KeySchema, encode_key, key_values

if TYPE_CHECKING:
    from kotae.records.schema import ItemSchema

KEY_FIELDS = ("item_key", "key", "pk", "id")
DEFAULT_SCOPE = "public"


class Item(BaseModel):
    """A knowledge item: a key, a kind, and whatever attributes the kind has."""

    model_config = ConfigDict(frozen=True)

    key: str
    kind: str = "unknown"
    attributes: dict[str, Any] = Field(default_factory=dict)
    # The key attribute values as the table holds them (name -> str, number or bytes), so a
    # fetch or a put can address the item; ``key`` is their encoding (kotae.records.keys).
    keys: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_mapping(
        cls, raw: Any, *, key_schema: KeySchema | None = None, schema: ItemSchema | None = None
    ) -> Item:
        """Parse a plain mapping (a JSONL line or a deserialized DynamoDB image).

        With ``key_schema`` (the table's), the key is the encoding of those attributes; without
        one (files that name no table), the first of KEY_FIELDS. Key attributes are not
        attributes, unless the kind maps one of its fields onto one. The kind is the schema's
        kind attribute, else its default kind; the kind's field names replace the team's
        attribute names. ``schema`` defaults to kotae.records.schema.DEFAULT_SCHEMA.
        """
        from kotae.records.schema import DEFAULT_SCHEMA

        schema = schema or DEFAULT_SCHEMA
        if not isinstance(raw, dict):
            raise InvalidItem(f"an item must be a JSON object, not {type(raw).__name__}")
        if key_schema is None:
            key, keys = _legacy_key(raw)
            taken: Collection[str] = KEY_FIELDS
        else:
            keys = key_values(raw, key_schema)
            key, taken = encode_key(keys, key_schema), keys
        kind_value = raw.get(schema.kind_attribute)
        kind = str(kind_value) if kind_value else schema.default_kind
        attributes = {k: v for k, v in raw.items() if k not in taken and k != schema.kind_attribute}
        spec = schema.kinds.get(kind)
        for source in spec.fields.values() if spec is not None else ():
            if source in keys:
                attributes[source] = keys[source]  # a kind field that is a key attribute
        attributes = schema.map_attributes(kind, attributes)
        item = cls(key=key, kind=kind, attributes=attributes, keys=keys)
        item.scopes  # noqa: B018 - refuse unreadable visibility at the boundary, not at query time
        return item

    @property
    def scopes(self) -> list[str]:
        """Who may see the item. Fails closed: an item without a ``scopes`` attribute is
        public, but one whose scopes are empty, null or not names, or that carries a
        near-miss of the attribute (``scope``, ``Scopes``), is refused rather than shown to all."""
        near_misses = [k for k in self.attributes if k != "scopes" and _SCOPE_NAME.fullmatch(_letters(k))]
        if near_misses:
            raise InvalidItem(
                f"the item has {near_misses[0]!r} but no 'scopes': spell it 'scopes' so its visibility is kept"
            )
        if "scopes" not in self.attributes:
            return [DEFAULT_SCOPE]
        value = self.attributes["scopes"]
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list | set | tuple | frozenset) or not names:
            raise InvalidItem(
                "'scopes' must be a non-empty list of scope names; remove it to make the item public"
            )
        members = list(names)
        valid = [str(v).strip() for v in members if isinstance(v, str | int) and not isinstance(v, bool)]
        if len(valid) != len(members) or "" in valid:
            raise InvalidItem("every entry of 'scopes' must be a non-empty scope name")
        return sorted(set(valid))


_SCOPE_NAME = re.compile(r"scopes?|visibility|visiblescopes|allowedscopes")


def _letters(name: str) -> str:
    return re.sub(r"[^a-z]", "", name.lower())


def _legacy_key(raw: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The key of an item read without its table's key schema: the first of KEY_FIELDS."""
    field = next((f for f in KEY_FIELDS if raw.get(f) not in (None, "")), None)
    if field is None:
        raise InvalidItem(f"the item has no key (one of {', '.join(KEY_FIELDS)})")
    key = raw[field]
    if isinstance(key, Decimal) and key.is_finite() and key == key.to_integral_value():
        key = int(key)  # DynamoDB numbers arrive as Decimal
    if not isinstance(key, str | int) or isinstance(key, bool):
        raise InvalidItem(f"the item key must be a string, not {type(key).__name__}")
    return str(key), {field: raw[field]}


class Document(BaseModel):
    """One indexable chunk of an item."""

    chunk_id: str
    item_key: str
    kind: str
    title: str
    text: str
    chunk_index: int = 0
    url: str | None = None
    updated_at: str | None = None
    scopes: list[str] = Field(default_factory=lambda: [DEFAULT_SCOPE])
    lang: str | None = None
    content_hash: str = ""
    # Ordering of writes to one item (stream sequence number or item version); older never wins.
    version: str | None = None
    # The item's facets (kotae.records.schema), the same on every chunk: exact-match strings.
    facets: dict[str, str] = Field(default_factory=dict)
    # The item's timestamp facet in UTC, ISO 8601 with milliseconds and Z, for ranges and sorting.
    timestamp: str | None = None


class Filters(BaseModel):
    """What a search may see. Scopes are enforced by the store query itself."""

    model_config = ConfigDict(frozen=True)

    scopes: tuple[str, ...] | None = None
    kinds: tuple[str, ...] | None = None


class SearchHit(BaseModel):
    """A retrieved chunk with its fused score and the trace of how it scored."""

    document: Document
    score: float
    relevance: float = 0.0
    lexical_rank: int | None = None
    dense_rank: int | None = None
    lexical_score: float | None = None
    dense_score: float | None = None
    rerank_score: float | None = None  # the reranker's relevance score, when one is configured


class Turn(BaseModel):
    """One message of thread history."""

    role: Literal["user", "assistant"]
    text: str


class Citation(BaseModel):
    id: str
    key: str
    title: str
    url: str | None = None
    score: float


class Usage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class Generation(BaseModel):
    """What a generator returns."""

    text: str
    model_id: str
    usage: Usage = Field(default_factory=Usage)
    stop_reason: str | None = None


class Answer(BaseModel):
    """The result of the answer pipeline, with its whole trace."""

    question: str
    text: str
    citations: list[Citation] = Field(default_factory=list)
    hits: list[SearchHit] = Field(default_factory=list)
    found: bool = True
    # A Bedrock guardrail stopped the question or the answer; text is kotae's polite message.
    blocked: bool = False
    # The record query that answered, with its exact figures (kotae.records.query.RecordResult).
    records: RecordResult | None = None
    prompt_task: str
    prompt_version: str
    model_id: str
    usage: Usage = Field(default_factory=Usage)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    # The standalone query a follow-up was rewritten into before retrieval (kotae.answer.condense).
    retrieval_query: str | None = None
    # Which model answered and why (kotae.answer.routing): light, strong, pinned or none.
    route: str | None = None
    route_reason: str | None = None
    # Estimated USD for the tokens, from the price file (kotae.ops.costs); None when unpriced.
    cost_usd: float | None = None

    @field_validator("timings_ms")
    @classmethod
    def _round(cls, value: dict[str, float]) -> dict[str, float]:
        return {k: round(v, 2) for k, v in value.items()}


from kotae.records.query import RecordResult  # noqa: E402 - it refers to Document, defined above

Answer.model_rebuild()
