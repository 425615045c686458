"""The provider interfaces the core depends on. Adapters implement them; tests fake them.

A store also implements two capabilities as small protocols, so that callers (the CLI, the ingest
Lambda) use them without knowing which store they hold: :class:`IndexBootstrap` (create or check
the index before the first write) and :class:`Reindexing` (build a fresh index and switch to it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Literal, Protocol, runtime_checkable

from kotae.models import Document, Filters, Generation
from kotae.records.query import RecordQuery, RecordResult

if TYPE_CHECKING:
    from kotae.answer.tools import Tool, ToolRun

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


def allows(filters: Filters, doc: Document) -> bool:
    """Whether the filters let a reader see the document, as the document itself says. Stores
    apply the filters inside their queries; this is the same rule, checked again on each result,
    so a result the query let through by mistake is still never shown."""
    if filters.scopes is not None and not set(filters.scopes).intersection(doc.scopes):
        return False
    return filters.kinds is None or doc.kind in filters.kinds


@dataclass(frozen=True)
class ScoredDocument:
    document: Document
    score: float


@runtime_checkable
class IndexBootstrap(Protocol):
    """Makes the store's index ready for reads and writes."""

    def ensure_index(self) -> str:
        """Create the index if it is missing, check that an existing one fits this store (schema,
        vector size), and return its name. Idempotent: a process calls it once before writing."""
        ...


@runtime_checkable
class Reindexing(Protocol):
    """Rebuilds the store's index from scratch and switches to the new one in one step."""

    def reindex(
        self,
        dimensions: int,
        fill: Callable[[Store], None],
        *,
        report: Callable[[str], None] | None = None,
    ) -> str:
        """Build an empty index for vectors of ``dimensions``, let ``fill`` write every item into
        it (through the store it is given), then make it the one in use and return its name.

        The switch is one atomic step (one transaction, an alias move), so readers see the old
        index or the new one, never a mix, and readers in other processes see the new one next. If ``fill`` raises, nothing switches: the old index stays in use
        and the error propagates. ``report`` gets one line for the operator after the switch.
        """
        ...


@runtime_checkable
class RecordQuerying(Protocol):
    """Exact questions about records: counts, lists, latest, groups, over their facets.

    Every method applies ``filters`` (scopes, kinds) exactly as searches do, and counts an item
    once however many chunks it has. Facet names are checked by the caller against the kind's
    configured facets; values are bound parameters or terms, never spliced into a query.
    """

    def query_records(self, query: RecordQuery, filters: Filters) -> RecordResult:
        """Execute ``query``: ``total`` matching items; ``keys`` and ``documents`` (first
        chunks) of at most ``query.limit`` of them, newest timestamp first, then by key
        (items without a timestamp last); ``groups`` for operation=group. Leaves
        ``unknown`` and ``unfiltered`` to the caller."""
        ...

    def facet_values(
        self, kind: str, facet: str, filters: Filters, *, prefix: str = "", limit: int = 1000
    ) -> dict[str, int]:
        """Up to ``limit`` values of one facet that visible items of ``kind`` have, starting with
        ``prefix`` (case-sensitive), each with its item count; ordered by value."""
        ...

    def facet_matches(self, kind: str, values: Sequence[str], filters: Filters) -> dict[str, list[str]]:
        """For each of ``values`` that some visible item of ``kind`` has as a facet value: the
        facets (sorted) it is a value of. Values no visible item has are left out."""
        ...


class Store(IndexBootstrap, Reindexing, RecordQuerying, Protocol):
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

    def advance_version(self, item_key: str, version: str | None) -> bool:
        """Record ``version`` as the item's version while its chunks stay as they are (a change
        that renders to the same chunks), so that an older record arriving later is refused.
        False if a newer version is stored."""
        ...

    def lexical_search(self, query: str, k: int, filters: Filters) -> list[ScoredDocument]:
        """The k best word matches, scored by the engine's own BM25 (fusion only uses their
        order and spread)."""
        ...

    def vector_search(self, vector: Vector, k: int, filters: Filters) -> list[ScoredDocument]:
        """The k nearest chunks, scored by cosine similarity to ``vector`` (-1..1): relevance
        reads it as the chunk's similarity to the question."""
        ...

    def term_frequencies(
        self, terms: Sequence[str], filters: Filters | None = None
    ) -> tuple[int, dict[str, int]]:
        """(chunks, {term: df}): how many live chunks the filters let the asker see and, for each
        term, in how many of them it occurs, where a chunk's terms are
        ``kotae.text.tokenize(title + "\\n" + text)``. Chunks the filters hide count nowhere, so
        the numbers cannot tell whether a word occurs in hidden items; no filters count every
        chunk. Terms in no chunk may be left out. The answer layer turns these into the IDF weights
        of its relevance (kotae.answer.relevance), the same for every store."""
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


class Reranker(Protocol):
    """Scores texts for their relevance to a query with a model that reads both together."""

    model_id: str

    def rerank(self, query: str, texts: Sequence[str]) -> list[tuple[int, float]]:
        """``(index into texts, relevance score)`` for every text, the most relevant first.
        Raises a ProviderError when the model cannot be reached (after retries)."""
        ...


@runtime_checkable
class ToolUsing(Protocol):
    """A generator that can call tools while it answers (Claude through Converse tool use).
    The extractive answerer has no such ability; callers check ``isinstance(g, ToolUsing)``."""

    def run_tools(
        self,
        system: str,
        messages: Sequence[dict[str, str]],
        tools: Sequence[Tool],
        *,
        max_rounds: int,
    ) -> ToolRun:
        """Converse with ``tools`` available: execute the calls the model makes (at most
        ``max_rounds`` rounds of them), then return its final answer with every call and every
        citable source of the run."""
        ...


@dataclass(frozen=True)
class GenerationContext:
    """What a generator may need besides the prompt: the question and the evidence."""

    question: str
    lang: str
    evidence: Sequence[tuple[str, Document, float]] = ()  # (source id, document, relevance)
    max_tokens: int | None = None  # a smaller output budget than the generator's own (condensing)
