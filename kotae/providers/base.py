"""The three provider interfaces the core depends on. Adapters implement them; tests fake them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Literal, Protocol, runtime_checkable

from kotae.models import Document, Filters, Generation

Purpose = Literal["document", "query"]
Vector = list[float]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors of a fixed size."""

    name: str
    dimensions: int
    # Languages the model is good at; None means multilingual. Retrieval uses this to decide
    # whether dense results are worth fusing for a query.
    languages: frozenset[str] | None

    def embed(self, texts: Sequence[str], *, purpose: Purpose = "document") -> list[Vector]: ...


@dataclass(frozen=True)
class ItemState:
    """What the store holds for one item: enough to skip unchanged work and refuse stale writes."""

    version: str | None
    documents: dict[str, Document] = field(default_factory=dict)  # chunk_id -> stored document
    has_vector: dict[str, bool] = field(default_factory=dict)
    deleted: bool = False


@dataclass(frozen=True)
class ScoredDocument:
    document: Document
    score: float


class Store(Protocol):
    """Keeps documents, answers lexical and vector queries restricted by filters."""

    name: ClassVar[str]

    def state(self, item_key: str) -> ItemState | None: ...

    def write(
        self,
        item_key: str,
        documents: Sequence[Document],
        vectors: dict[str, Vector],
        *,
        version: str | None = None,
    ) -> bool:
        """Make the item's chunks exactly ``documents``; False if a newer version is stored."""
        ...

    def delete(self, item_key: str, *, version: str | None = None) -> bool:
        """Remove every chunk of the item; False if a newer version is stored."""
        ...

    def lexical_search(self, query: str, k: int, filters: Filters) -> list[ScoredDocument]: ...

    def vector_search(self, vector: Vector, k: int, filters: Filters) -> list[ScoredDocument]: ...

    def term_coverage(self, query: str, documents: Sequence[Document]) -> list[float]:
        """For each document, the IDF-weighted share of the query's terms it contains (0..1)."""
        ...

    def item_keys(self) -> Iterator[str]: ...

    def count(self) -> int: ...

    def close(self) -> None: ...


class Generator(Protocol):
    """Produces an answer from a rendered prompt."""

    model_id: str
    # True when the text is written by a language model (False for the extractive answerer).
    uses_llm: ClassVar[bool]

    def generate(
        self, system: str, messages: Sequence[dict[str, str]], *, context: GenerationContext
    ) -> Generation: ...

    def stream(
        self, system: str, messages: Sequence[dict[str, str]], *, context: GenerationContext
    ) -> Iterator[str | Generation]:
        """Yield text deltas, then the final Generation."""
        ...


@dataclass(frozen=True)
class GenerationContext:
    """What a generator may need besides the prompt: the question and the evidence."""

    question: str
    lang: str
    evidence: Sequence[tuple[str, Document, float]] = ()  # (source id, document, relevance)
