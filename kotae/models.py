"""Typed values that travel through the core. Raw dicts are parsed into these at the boundary."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kotae.errors import InvalidItem

KEY_FIELDS = ("item_key", "key", "pk", "id")
DEFAULT_SCOPE = "public"


class Item(BaseModel):
    """A knowledge item: a key, a kind, and whatever attributes the kind has."""

    model_config = ConfigDict(frozen=True)

    key: str
    kind: str = "unknown"
    attributes: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_mapping(cls, raw: Any) -> Item:
        """Parse a plain mapping (a JSONL line or a deserialized DynamoDB image)."""
        if not isinstance(raw, dict):
            raise InvalidItem(f"an item must be a JSON object, not {type(raw).__name__}")
        key = next((raw[f] for f in KEY_FIELDS if raw.get(f) not in (None, "")), None)
        if key is None:
            raise InvalidItem(f"the item has no key (one of {', '.join(KEY_FIELDS)})")
        if isinstance(key, Decimal) and key.is_finite() and key == key.to_integral_value():
            key = int(key)  # DynamoDB numbers arrive as Decimal
        if not isinstance(key, str | int) or isinstance(key, bool):
            raise InvalidItem(f"the item key must be a string, not {type(key).__name__}")
        kind = raw.get("kind")
        attributes = {k: v for k, v in raw.items() if k not in KEY_FIELDS and k != "kind"}
        item = cls(key=str(key), kind=str(kind) if kind else "unknown", attributes=attributes)
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
            raise InvalidItem("'scopes' must be a non-empty list of scope names; remove it to make the item public")
        members = list(names)
        valid = [str(v).strip() for v in members if isinstance(v, str | int) and not isinstance(v, bool)]
        if len(valid) != len(members) or "" in valid:
            raise InvalidItem("every entry of 'scopes' must be a non-empty scope name")
        return sorted(set(valid))


_SCOPE_NAME = re.compile(r"scopes?|visibility|visiblescopes|allowedscopes")


def _letters(name: str) -> str:
    return re.sub(r"[^a-z]", "", name.lower())


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
    prompt_task: str
    prompt_version: str
    model_id: str
    usage: Usage = Field(default_factory=Usage)
    timings_ms: dict[str, float] = Field(default_factory=dict)

    @field_validator("timings_ms")
    @classmethod
    def _round(cls, value: dict[str, float]) -> dict[str, float]:
        return {k: round(v, 2) for k, v in value.items()}
