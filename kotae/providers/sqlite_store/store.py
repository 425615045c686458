"""The SQLite store: writes, lexical search, vector search and term statistics on one file.

Several processes may use one file (the bot answering while `kotae ingest` writes). Each read is
one snapshot of the file as last committed, and the vector matrix cached for dense search belongs
to the snapshot it was loaded from (:mod:`.connection`): a change by any process, to a scope, a
deletion, a new item, or a reindex, is seen by the next read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from kotae.errors import StoreError
from kotae.models import Document, Filters
from kotae.providers.base import ItemState, ScoredDocument, Store, Vector, allows
from kotae.providers.sqlite_store import facet_lookups, lexical, record_queries, record_rows, rows, schema
from kotae.providers.sqlite_store import terms as term_stats
from kotae.providers.sqlite_store.connection import Snapshot, StoreFile
from kotae.providers.sqlite_store.lexical import LexicalRanking
from kotae.providers.sqlite_store.vectors import VectorMatrix, numpy
from kotae.records.query import RecordQuery, RecordResult


class SQLiteStore:
    """A kotae store in one SQLite file."""

    name: ClassVar[str] = "sqlite"

    def __init__(
        self,
        path: Path | str,
        *,
        dimensions: int | None = None,
        page_size: int | None = None,
        ranking: LexicalRanking | None = None,
    ) -> None:
        """Open (or create) the store at ``path``; ``page_size`` applies to a new file only;
        ``ranking`` replaces the lexical ranking's weights, to measure them (:mod:`.lexical`)."""
        self.path = Path(path)
        self.ranking = ranking or LexicalRanking()
        self._file = StoreFile(self.path, dimensions, page_size=page_size)
        self._matrix: tuple[tuple[int, int, int], VectorMatrix] | None = None

    # -- index capabilities ------------------------------------------------------------------
    def ensure_index(self) -> str:
        """Nothing to create: opening the file made the schema and checked its version and
        vector size. Checks them again and returns the file's path."""
        self._file.check()
        return str(self.path)

    def reindex(
        self,
        dimensions: int,
        fill: Callable[[Store], None],
        *,
        report: Callable[[str], None] | None = None,
    ) -> str:
        """Fill a fresh file next to this one (``<name>.reindex``), then copy it into this one in
        one transaction (:meth:`StoreFile.copy_from`) and remove it. Until then the old content
        serves as before; if ``fill`` fails, the fresh file is removed and nothing else changes.
        The file itself is never replaced, so every process using it sees the new content."""
        if str(self.path) == ":memory:":
            raise StoreError("an in-memory store has no file to rebuild; ingest into a new store instead")
        fresh_path = schema.reindex_path(self.path)
        # A backup into a file in WAL mode needs the same page size on both sides.
        fresh = SQLiteStore(fresh_path, dimensions=dimensions, page_size=self._file.page_size())
        try:
            fill(fresh)
            fresh.close()
            self._file.copy_from(fresh_path, dimensions)
        finally:
            fresh.close()
            schema.remove(fresh_path)
        if report is not None:
            report(f"{self.path} rebuilt")
        return str(self.path)

    def close(self) -> None:
        self._file.close()

    # -- bookkeeping -------------------------------------------------------------------------
    def count(self) -> int:
        with self._file.reading("count") as snap:
            return int(snap.db.execute("SELECT count(*) FROM chunks").fetchone()[0])

    def item_keys(self) -> Iterator[str]:
        with self._file.reading("list items") as snap:
            keys = snap.db.execute("SELECT DISTINCT item_key FROM chunks ORDER BY item_key").fetchall()
        return iter([r[0] for r in keys])

    def documents(self, item_key: str) -> list[Document]:
        with self._file.reading("read item") as snap:
            found = snap.db.execute(
                "SELECT doc FROM chunks WHERE item_key = ? ORDER BY chunk_id", (item_key,)
            ).fetchall()
            return [Document.model_validate_json(r[0]) for r in found]

    # -- writes ------------------------------------------------------------------------------
    def state(self, item_key: str) -> ItemState | None:
        with self._file.reading("read item state") as snap:
            row = snap.db.execute(
                "SELECT version, deleted FROM items WHERE item_key = ?", (item_key,)
            ).fetchone()
            chunks = snap.db.execute(
                "SELECT chunk_id, doc, vector IS NOT NULL FROM chunks WHERE item_key = ?", (item_key,)
            ).fetchall()
            if row is None and not chunks:
                return None
            return ItemState(
                version=row[0] if row else None,
                documents={c: Document.model_validate_json(d) for c, d, _ in chunks},
                has_vector={c: bool(v) for c, _, v in chunks},
                deleted=bool(row[1]) if row else False,
            )

    def write(
        self,
        item_key: str,
        documents: Sequence[Document],
        vectors: dict[str, Vector],
        *,
        version: str | None = None,
    ) -> bool:
        np: Any = numpy() if vectors else None
        with self._file.writing(f"write of {item_key}") as db:
            if rows.stale(db, item_key, version):
                return False
            keep = {d.chunk_id for d in documents}
            for row_id, cid in db.execute(
                "SELECT id, chunk_id FROM chunks WHERE item_key = ?", (item_key,)
            ).fetchall():
                if cid not in keep:
                    rows.delete(db, row_id)
            for doc in documents:
                blob = None
                if doc.chunk_id in vectors:
                    vec = vectors[doc.chunk_id]
                    rows.check_dimensions(db, len(vec), self._file.dimensions)
                    blob = np.asarray(vec, dtype=np.float32).tobytes()
                rows.upsert(db, doc, blob)
            record_rows.put_item(db, item_key, documents)
            rows.set_item(db, item_key, version, deleted=False)
        return True

    def delete(self, item_key: str, *, version: str | None = None) -> bool:
        with self._file.writing(f"delete of {item_key}") as db:
            if rows.stale(db, item_key, version):
                return False
            for (row_id,) in db.execute("SELECT id FROM chunks WHERE item_key = ?", (item_key,)).fetchall():
                rows.delete(db, row_id)
            record_rows.drop(db, item_key)
            # A tombstone keeps the version so a replayed older INSERT cannot resurrect the item.
            rows.set_item(db, item_key, version, deleted=True)
        return True

    def advance_version(self, item_key: str, version: str | None) -> bool:
        """Store a newer version for an item whose chunks stay as they are (the item's row and
        each chunk's ``version``; no words or vectors are rewritten). False if a newer version
        is stored; an unversioned call changes nothing; an unknown item is left as a tombstone
        of that version."""
        if version is None:
            return True
        with self._file.writing(f"version of {item_key}") as db:
            if rows.stale(db, item_key, version):
                return False
            # An item with no chunks is recorded as a tombstone, as a write of no chunks would be.
            db.execute(
                "INSERT INTO items VALUES (?, ?, NOT EXISTS (SELECT 1 FROM chunks WHERE item_key = ?)) "
                "ON CONFLICT(item_key) DO UPDATE SET version = excluded.version",
                (item_key, version, item_key),
            )
            db.execute(
                "UPDATE chunks SET doc = json_set(doc, '$.version', ?) WHERE item_key = ?",
                (version, item_key),
            )
        return True

    # -- reads -------------------------------------------------------------------------------
    def lexical_search(self, query: str, k: int, filters: Filters) -> list[ScoredDocument]:
        """Words by field, Sudachi synonyms and character bigrams, fused into one list
        (:mod:`.lexical`); scores are positive, higher is better, comparable within one query."""
        with self._file.reading("lexical search") as snap:
            found = lexical.search(snap.db, query, k, filters, self.ranking)
            return self._scored(snap, found, filters)

    def vector_search(self, vector: Vector, k: int, filters: Filters) -> list[ScoredDocument]:
        with self._file.reading("vector search") as snap:
            if self._matrix is None or self._matrix[0] != snap.key:
                self._matrix = (snap.key, VectorMatrix.load(snap.db, self._file.dimensions))
            return self._scored(snap, self._matrix[1].search(vector, k, filters), filters)

    def _scored(
        self, snap: Snapshot, found: Sequence[tuple[int, float]], filters: Filters
    ) -> list[ScoredDocument]:
        """The documents behind (row id, score) pairs, read in the same snapshot as the ids. The
        query already applied the filters; ``allows`` checks each document again, as stored."""
        if not found:
            return []
        ids = [row_id for row_id, _ in found]
        docs = snap.db.execute(f"SELECT id, doc FROM chunks WHERE id IN ({','.join('?' * len(ids))})", ids)
        by_id = {row_id: Document.model_validate_json(doc) for row_id, doc in docs}
        return [
            ScoredDocument(by_id[row_id], float(score))
            for row_id, score in found
            if row_id in by_id and allows(filters, by_id[row_id])
        ]

    def term_frequencies(
        self, terms: Sequence[str], filters: Filters | None = None
    ) -> tuple[int, dict[str, int]]:
        """The chunks the filters let the asker see, and how many of them hold each term, summed
        over the visible classes (:mod:`.terms`); no filters count the whole store."""
        with self._file.reading("term frequencies") as snap:
            classes = term_stats.visible_classes(snap.db, filters or Filters())
            return term_stats.chunk_count(snap.db, classes), term_stats.frequencies(snap.db, terms, classes)

    # -- record queries ----------------------------------------------------------------------
    def query_records(self, query: RecordQuery, filters: Filters) -> RecordResult:
        """Counts, lists and groups over the items' facets (:mod:`.record_queries`), in one
        snapshot: an item counts once however many chunks it has, and only if the filters let
        the reader see it."""
        with self._file.reading("record query") as snap:
            return record_queries.run(snap.db, query, filters)

    def facet_values(
        self, kind: str, facet: str, filters: Filters, *, prefix: str = "", limit: int = 1000
    ) -> dict[str, int]:
        with self._file.reading("facet values") as snap:
            return facet_lookups.facet_values(snap.db, kind, facet, filters, prefix=prefix, limit=limit)

    def facet_matches(self, kind: str, values: Sequence[str], filters: Filters) -> dict[str, list[str]]:
        with self._file.reading("facet matches") as snap:
            return facet_lookups.facet_matches(snap.db, kind, values, filters)
