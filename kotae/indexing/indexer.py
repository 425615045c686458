"""Items into the store: render, embed only what changed, write, and never let older win.

Shared by ``kotae ingest``, the ingest Lambda and backfill, so all three behave the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from kotae.indexing.render import DocumentRenderer
from kotae.models import Document, Item
from kotae.providers.base import Embedder, ItemState, Store, Vector
from kotae.versions import is_older

Outcome = Literal["indexed", "unchanged", "deleted", "stale"]


@dataclass(frozen=True)
class IndexResult:
    key: str
    outcome: Outcome
    chunks: int = 0
    embedded: int = 0


@dataclass(frozen=True)
class Plan:
    item: Item
    version: str | None
    documents: list[Document]
    state: ItemState | None
    todo: list[Document]  # chunks whose text must be embedded
    stale: bool = False


def embedding_text(doc: Document) -> str:
    return doc.text if doc.text.startswith(doc.title) else f"{doc.title}\n{doc.text}"


def _same(a: Document, b: Document) -> bool:
    return a.model_dump(exclude={"version"}) == b.model_dump(exclude={"version"})


class Indexer:
    def __init__(self, renderer: DocumentRenderer, store: Store, embedder: Embedder | None) -> None:
        self.renderer = renderer
        self.store = store
        self.embedder = embedder

    def index(self, item: Item, *, version: str | None = None) -> IndexResult:
        """Upsert one item. Unchanged text is not embedded again; stale chunks are removed."""
        return self.index_many([(item, version)])[0]

    def plan(self, item: Item, version: str | None = None) -> Plan:
        """Render an item and work out which of its chunks need a new embedding."""
        return self.plan_against(item, version, self.store.state(item.key))

    def plan_against(self, item: Item, version: str | None, state: ItemState | None) -> Plan:
        """As ``plan``, against a state already read from the store (one read serves several)."""
        if version is None and state is not None:
            # An unversioned write (backfill, CLI) keeps the item's stream version, so an older
            # stream record replayed later is still refused.
            version = state.version
        documents = self.renderer.render(item, version=version)
        if state is not None and is_older(version, state.version):
            return Plan(item, version, documents, state, [], stale=True)
        todo = []
        if self.embedder is not None:
            todo = [
                d
                for d in documents
                if state is None
                or not state.has_vector.get(d.chunk_id)
                or state.documents[d.chunk_id].content_hash != d.content_hash
            ]
        return Plan(item, version, documents, state, todo)

    def index_many(self, entries: Sequence[tuple[Item, str | None]], *, batch: int = 64) -> list[IndexResult]:
        """Upsert several items, embedding everything that changed in shared batches."""
        return self.write([self.plan(item, version) for item, version in entries], batch=batch)

    def write(self, plans: Sequence[Plan], *, batch: int = 64) -> list[IndexResult]:
        """Carry out plans: embed the chunks they need in shared batches, then write each item.

        A plan is only as current as the store state it was made from; the caller makes sure
        nothing has written its item since (the stream ingestor plans again if something has).
        """
        pending = [d for plan in plans for d in plan.todo]
        vectors: dict[str, Vector] = {}
        if pending:
            assert self.embedder is not None
            for start in range(0, len(pending), batch):
                part = pending[start : start + batch]
                embedded = self.embedder.embed([embedding_text(d) for d in part], purpose="document")
                vectors.update({d.chunk_id: v for d, v in zip(part, embedded, strict=True)})
        return [self._apply(plan, {d.chunk_id: vectors[d.chunk_id] for d in plan.todo}) for plan in plans]

    def _apply(self, plan: Plan, vectors: dict[str, Vector]) -> IndexResult:
        key, state, documents = plan.item.key, plan.state, plan.documents
        if plan.stale:
            return IndexResult(key, "stale")
        if (
            state is not None
            and not state.deleted
            and not vectors
            and set(state.documents) == {d.chunk_id for d in documents}
            and all(_same(state.documents[d.chunk_id], d) for d in documents)
        ):
            # Nothing to rewrite, but the version moves on: an older record arriving later must
            # still lose to this one.
            if plan.version != state.version and not self.store.advance_version(key, plan.version):
                return IndexResult(key, "stale")
            return IndexResult(key, "unchanged", len(documents))
        if not self.store.write(key, documents, vectors, version=plan.version):
            return IndexResult(key, "stale")
        return IndexResult(key, "indexed", len(documents), len(vectors))

    def remove(self, key: str, *, version: str | None = None) -> IndexResult:
        """Delete every chunk of an item."""
        if not self.store.delete(key, version=version):
            return IndexResult(key, "stale")
        return IndexResult(key, "deleted")
