"""The production store: an OpenSearch index (managed domain, Serverless, or self-hosted).

Reads and writes go through an alias (``KOTAE_OPENSEARCH_INDEX``) pointing at one concrete
index ``<alias>-v<N>``; a reindex builds ``v<N+1>`` and moves the alias in one atomic
``_aliases`` request. Semantics match :class:`~kotae.providers.sqlite_store.SQLiteStore`: a
write makes the item's chunks exactly the given ones, older versions never win, and a delete
leaves a tombstone (``<item_key>#tombstone``, ``deleted: true``) that every read excludes.

Managed domains and self-hosted clusters take the chunk id as ``_id``: writes are idempotent
upserts, and a chunk without a new vector is a partial ``update`` keeping the stored one.
Serverless *vector search* collections only have server-generated ids (``_update/<id>`` and
``PUT _doc/<id>`` are for SEARCH collections), so with ``custom_ids=False`` a write re-indexes
every chunk of the item without an id (re-sending stored vectors), then deletes the item's
previous documents by their generated ids. Two writes of one item within Serverless's seconds of
search latency can leave the first one's documents behind (the next write removes them); reads
serve only the item's newest write (:mod:`.opensearch_copies`), checked across scopes.

Errors are repeated as their type and a redacted reason (``error_summary``): mapper errors quote values.
"""

from __future__ import annotations

import copy
import functools
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar

from opensearchpy import OpenSearch

from kotae.errors import IndexMismatch, StoreError
from kotae.models import Document, Filters
from kotae.providers import opensearch_analysis as analysis
from kotae.providers import opensearch_copies as copies
from kotae.providers import opensearch_lexical as lexical
from kotae.providers import opensearch_queries as q
from kotae.providers.base import ItemState, ScoredDocument, Store, Vector, allows
from kotae.providers.opensearch_client import client_from_settings, translated
from kotae.providers.opensearch_records import RecordReads
from kotae.settings import Settings

RETRYABLE_ITEM_STATUS = frozenset({429, 503})
MAX_CHUNKS_PER_ITEM = 1000


class OpenSearchStore(RecordReads):
    """A kotae store on an OpenSearch alias (record queries: opensearch_records.RecordReads)."""

    name: ClassVar[str] = "opensearch"

    def __init__(
        self,
        client: OpenSearch,
        alias: str,
        dimensions: int,
        *,
        custom_ids: bool = True,
        refresh: bool = False,
        max_attempts: int = 4,
        backoff: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client, self.alias, self.dimensions, self.custom_ids = client, alias, dimensions, custom_ids
        # refresh=true makes writes visible at once (tests, small self-hosted clusters); Serverless
        # does not support it, so it is off unless asked for. Bulk items refused with 429/503 are
        # tried up to max_attempts times, sleeping backoff * 2**attempt in between.
        self.refresh, self.max_attempts, self.backoff, self._sleep = refresh, max_attempts, backoff, sleep

    @classmethod
    def from_settings(cls, settings: Settings, *, dimensions: int | None = None) -> OpenSearchStore:
        """The store on KOTAE_OPENSEARCH_INDEX, with ``dimensions`` or KOTAE_EMBEDDING_DIMENSIONS."""
        client = client_from_settings(settings)
        dimensions = dimensions or settings.embedding_dimensions
        custom_ids = settings.opensearch_auth != "sigv4-aoss"  # Serverless vector collections: no custom ids
        return cls(client, settings.opensearch_index, dimensions, custom_ids=custom_ids)

    def _errors(self, what: str) -> AbstractContextManager[None]:
        return translated(self.alias, what)

    # -- index and alias ---------------------------------------------------------------------
    def current_indices(self) -> list[str]:
        """The concrete indices the alias points at (none when the alias does not exist)."""
        with self._errors("read alias"):
            if not self.client.indices.exists_alias(name=self.alias):
                return []
            return sorted(self.client.indices.get_alias(name=self.alias))

    def create_index(self, name: str, *, dimensions: int | None = None) -> None:
        """Create ``name`` with kuromoji, or with CJK bigrams where the cluster refuses kuromoji
        (opensearch_analysis: a warning is logged, the index's _meta records it)."""
        with self._errors(f"create index {name}"):
            analysis.create_index(self.client, name, q.index_body(dimensions or self.dimensions))

    def japanese_analysis(self) -> dict[str, analysis.JapaneseAnalysis]:
        """How each index behind the alias analyses Japanese: ``kuromoji`` or ``cjk_bigram``."""
        return {i: analysis.japanese_analysis(b["mappings"]) for i, b in self._mapping().items()}

    def swap_alias(self, new_index: str) -> None:
        """Point the alias at ``new_index`` with one atomic request: no moment without an index."""
        old = [name for name in self.current_indices() if name != new_index]
        with self._errors("move alias"):
            self.client.indices.update_aliases(body=q.alias_actions(self.alias, new_index, old))
        self.__dict__.pop("_lexical_mode", None)  # the new index may have other fields

    def ensure_index(self, name: str | None = None) -> str:
        """Create ``<alias>-v1`` (or ``name``) and the alias if missing. For an existing index,
        check the vector size and field types, and add what this kotae maps that the index lacks
        (opensearch_queries.mapping_update): an index made before ``tokens``, ``facets`` or
        ``timestamp`` existed would refuse every write under its strict mapping. Its older chunks
        count in term frequencies and record queries once `kotae reindex` rewrote them."""
        current = self.current_indices()
        if not current:
            index = name or f"{self.alias}-v1"
            with self._errors(f"read index {index}"):
                exists = self.client.indices.exists(index=index)
            if not exists:  # else a previous attempt created it but stopped before the alias
                self.create_index(index)
            self.swap_alias(index)
            return index
        for index, body in self._mapping().items():
            analysis.report(index, body["mappings"])  # logs a CJK bigram fallback, an older index
            stored = body["mappings"].get("properties", {}).get(q.VECTOR_FIELD, {}).get("dimension")
            if stored is not None and stored != self.dimensions:
                raise IndexMismatch(
                    f"OpenSearch index {index} holds {stored}-dimension vectors but the embedder makes "
                    f"{self.dimensions}; run `kotae reindex`"
                )
            update = q.mapping_update(index, body["mappings"], self.dimensions)
            if update:
                with self._errors(f"add fields to {index}"):
                    self.client.indices.put_mapping(index=index, body=update)
        return current[0]

    def next_index_name(self) -> str:
        versions = [int(m.group(1)) for n in self.current_indices() if (m := re.search(r"-v(\d+)$", n))]
        return f"{self.alias}-v{max(versions, default=0) + 1}"

    def reindex(
        self, dimensions: int, fill: Callable[[Store], None], *, report: Callable[[str], None] | None = None
    ) -> str:
        """Build the next index, let ``fill`` write into it, then move the alias (zero downtime). If
        ``fill`` raises, the alias stays; the half-filled index is left, the next reindex builds anew."""
        new_index = self.next_index_name()
        self.create_index(new_index, dimensions=dimensions)
        fill(self._on(new_index, dimensions))
        self.swap_alias(new_index)
        self.dimensions = dimensions
        if report is not None:
            report(f"alias {self.alias} now points at {new_index}")
        return new_index

    def _on(self, target: str, dimensions: int) -> OpenSearchStore:
        """This store (same client and options) on another index."""
        other = copy.copy(self)
        other.alias, other.dimensions = target, dimensions
        return other

    def close(self) -> None:
        self.client.close()

    # -- writes ------------------------------------------------------------------------------
    def _hits(self, item_key: str, *, with_vectors: bool) -> list[q.Hit]:
        with self._errors(f"read item {item_key}"):
            body = q.item_query(item_key, MAX_CHUNKS_PER_ITEM, with_vectors=with_vectors)
            return list(self.client.search(index=self.alias, body=body)["hits"]["hits"])

    def state(self, item_key: str) -> ItemState | None:
        return q.item_state(self._hits(item_key, with_vectors=False))

    def _check(self, vector: Sequence[float]) -> None:
        if len(vector) != self.dimensions:
            raise IndexMismatch(
                f"vector of size {len(vector)}, the OpenSearch index holds {self.dimensions}; "
                "run `kotae reindex`"
            )

    def write(
        self,
        item_key: str,
        documents: Sequence[Document],
        vectors: dict[str, Vector],
        *,
        version: str | None = None,
    ) -> bool:
        """Make the item's chunks exactly ``documents``. An item written with no chunks is kept as a
        tombstone, so its version still refuses older replays (state().deleted is then True)."""
        if not documents:
            return self.delete(item_key, version=version)
        for given in vectors.values():
            self._check(given)
        hits = self._hits(item_key, with_vectors=not self.custom_ids)
        if q.is_stale(hits, version):
            return False
        self._replace(hits, documents, vectors, version)
        return True

    def _replace(
        self,
        hits: list[q.Hit],
        documents: Sequence[Document],
        vectors: dict[str, Vector],
        version: str | None,
    ) -> None:
        """Write ``documents`` as one new write of the item whose stored documents are ``hits``,
        then delete the documents the new write did not overwrite."""
        write = copies.new_write_id()
        # A chunk without a new vector keeps the one of the item's newest write.
        stored = {h["_source"]["chunk_id"]: h["_source"].get(q.VECTOR_FIELD) for h in copies.current(hits)}
        upserts: list[q.BulkAction] = []
        for doc in documents:
            new = vectors.get(doc.chunk_id)
            if self.custom_ids and new is None:
                source = q.chunk_source(doc, version, None, write)
                upserts.append(q.BulkAction("update", doc.chunk_id, doc.chunk_id, source))
                continue
            vector: list[float] | None = q.normalized(new) if new is not None else stored.get(doc.chunk_id)
            source = q.chunk_source(doc, version, vector, write)
            doc_id = doc.chunk_id if self.custom_ids else None
            upserts.append(q.BulkAction("index", doc.chunk_id, doc_id, source))
        keep = {d.chunk_id for d in documents} if self.custom_ids else set()
        self._apply(upserts, [h for h in hits if h["_id"] not in keep])

    def delete(self, item_key: str, *, version: str | None = None) -> bool:
        hits = self._hits(item_key, with_vectors=False)
        if q.is_stale(hits, version):
            return False
        tombstone_id = item_key + q.TOMBSTONE_SUFFIX
        source = q.tombstone_source(item_key, version, copies.new_write_id())
        action = q.BulkAction("index", tombstone_id, tombstone_id if self.custom_ids else None, source)
        # With custom ids the tombstone overwrites itself; generated ids leave the old one to delete.
        self._apply([action], [h for h in hits if not (self.custom_ids and h["_id"] == tombstone_id)])
        return True

    def advance_version(self, item_key: str, version: str | None) -> bool:
        """Store the item's current chunks again under ``version`` (no vector is sent where ids
        are custom; Serverless, which cannot update a document, gets them re-indexed with their
        stored vectors). A deleted or unknown item gets a tombstone of that version."""
        if version is None:
            return True
        hits = self._hits(item_key, with_vectors=not self.custom_ids)
        if q.is_stale(hits, version):
            return False
        state = q.item_state(hits)
        if state is None or state.deleted:
            return self.delete(item_key, version=version)
        documents = [d.model_copy(update={"version": version}) for d in state.documents.values()]
        self._replace(hits, documents, {}, version)
        return True

    def _apply(self, upserts: list[q.BulkAction], obsolete: list[q.Hit]) -> None:
        # Two phases: old documents go only once every new one is in, so a failed write never
        # leaves the item with fewer chunks than before.
        self._bulk(upserts)
        self._bulk([q.BulkAction("delete", h["_source"]["chunk_id"], h["_id"]) for h in obsolete])

    def _bulk(self, actions: list[q.BulkAction]) -> None:
        """Send actions; retry items refused with 429/503, raise for any other item error."""
        pending = actions
        params = {"refresh": "true"} if self.refresh else None
        for attempt in range(self.max_attempts):
            if not pending:
                return
            with self._errors("bulk write"):
                response = self.client.bulk(body=q.ndjson(pending), index=self.alias, params=params)
            pending, failed = q.bulk_failures(pending, response, RETRYABLE_ITEM_STATUS)
            if failed:
                raise StoreError("bulk write failed for " + "; ".join(failed))
            if pending and attempt + 1 < self.max_attempts:
                self._sleep(self.backoff * 2**attempt)
        if pending:
            raise StoreError(
                f"bulk write still throttled after {self.max_attempts} attempts for "
                + ", ".join(a.label for a in pending)
            )

    # -- reads -------------------------------------------------------------------------------
    def _read(self, body: Mapping[str, object], what: str) -> dict[str, Any]:
        with self._errors(what):
            return dict(self.client.search(index=self.alias, body=body))

    def _mapping(self) -> dict[str, Any]:
        with self._errors("read mapping"):
            return dict(self.client.indices.get_mapping(index=self.alias))

    def _search(
        self, body: Mapping[str, object], filters: Filters, what: str, score: Callable[[float], float] = float
    ) -> list[ScoredDocument]:
        hits = list(self._read(body, what)["hits"]["hits"])
        out, seen = [], set()
        for hit in self._servable(hits, what):
            doc = q.document_from_source(hit["_source"])
            if doc.chunk_id not in seen and allows(filters, doc):
                seen.add(doc.chunk_id)
                out.append(ScoredDocument(doc, score(float(hit["_score"] or 0.0))))
        return out

    def _servable(self, hits: list[q.Hit], what: str) -> list[q.Hit]:
        """The hits that belong to their item's newest write, looked up in a second search that
        has no scope filter (opensearch_copies), so a copy left by an older write is never
        served, whatever its scopes."""
        keys = sorted({h["_source"]["item_key"] for h in hits})
        if not keys:
            return []
        response = self._read(copies.newest_query(keys), f"{what} (newest writes)")
        return copies.servable(hits, copies.newest_writes(response))

    def lexical_search(self, query: str, k: int, filters: Filters) -> list[ScoredDocument]:
        """The embedded store's ranking: two lists fused here (opensearch_lexical)."""
        bodies = lexical.queries(query, k, q.visibility(filters), lambda: self._lexical_mode)
        found = [self._search(b, filters, f"lexical search ({n})") if b else [] for n, b in bodies.items()]
        return lexical.fused(found[0], found[1], k)

    @functools.cached_property
    def _lexical_mode(self) -> lexical.Mode:
        """How the indices behind the alias take lexical queries (opensearch_lexical.mode), once."""
        mappings = [b["mappings"] for b in self._mapping().values()]
        return lexical.mode(mappings, lambda body: self._read(body, "lexical search (probe)"))

    def vector_search(self, vector: Vector, k: int, filters: Filters) -> list[ScoredDocument]:
        """The k nearest visible chunks, scored by cosine similarity (as the embedded store)."""
        self._check(vector)
        body = q.knn_query(q.normalized(vector), k, filters)
        return self._search(body, filters, "vector search", q.cosine)

    def term_frequencies(
        self, terms: Sequence[str], filters: Filters | None = None
    ) -> tuple[int, dict[str, int]]:
        """The chunks the filters let the asker see and each term's chunk frequency among them on
        the ``tokens`` keyword field, in one size-0 search (opensearch_queries.
        term_frequencies_query); no filters count every live chunk."""
        unique = list(dict.fromkeys(terms))
        response = self._read(q.term_frequencies_query(unique, filters), "term frequencies")
        return q.term_frequencies(unique, response)

    def item_keys(self, *, page: int = 1000) -> Iterator[str]:
        """Every live item key in key order, paged with a composite aggregation (Serverless has
        no scroll)."""
        after: dict[str, Any] | None = None
        while True:
            agg = self._read(q.item_keys_query(page, after), "list item keys")["aggregations"]["items"]
            if not agg["buckets"]:
                return
            yield from (bucket["key"]["item_key"] for bucket in agg["buckets"])
            after = agg["after_key"]

    def count(self) -> int:
        with self._errors("count"):
            return int(self.client.count(index=self.alias, body=q.count_query())["count"])
