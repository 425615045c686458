"""The SQLite store: writes, lexical search, vector search and term statistics on one file."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from kotae.errors import IndexMismatch, StoreError
from kotae.models import Document, Filters
from kotae.providers.base import ItemState, ScoredDocument, Store, Vector
from kotae.providers.sqlite_store import schema
from kotae.providers.sqlite_store.vectors import VectorMatrix, numpy
from kotae.text import tokenize
from kotae.versions import is_older

# Postings a lexical query may score before its most common terms are dropped (see _prune).
MAX_POSTINGS = 10_000


def _match_expression(tokens: Sequence[str]) -> str:
    """An FTS5 query that ORs the tokens, each quoted as a string so none is read as syntax."""
    unique = dict.fromkeys(t for t in tokens if t)
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in unique)


class SQLiteStore:
    """A kotae store in one SQLite file."""

    name: ClassVar[str] = "sqlite"

    def __init__(self, path: Path | str, *, dimensions: int | None = None) -> None:
        self.path = Path(path)
        self._dimensions = dimensions
        self._lock = threading.RLock()
        self._matrix: VectorMatrix | None = None
        self._db = schema.open_database(self.path, dimensions)

    # -- index capabilities ------------------------------------------------------------------
    def ensure_index(self) -> str:
        """Nothing to create: opening the file made the schema and checked its version and
        vector size. Checks them again and returns the file's path."""
        schema.check_meta(self._db, self.path, self._dimensions)
        return str(self.path)

    def reindex(
        self,
        dimensions: int,
        fill: Callable[[Store], None],
        *,
        report: Callable[[str], None] | None = None,
    ) -> str:
        """Fill a fresh file next to this one (``<name>.reindex``), then move it over this one in
        one rename and read from it. Until then the old file serves as before; if ``fill`` fails,
        the fresh file is removed and nothing else changes."""
        if str(self.path) == ":memory:":
            raise StoreError("an in-memory store has no file to rebuild; ingest into a new store instead")
        fresh_path = schema.reindex_path(self.path)
        fresh = SQLiteStore(fresh_path, dimensions=dimensions)
        try:
            fill(fresh)
        except BaseException:
            fresh.close()
            schema.remove(fresh_path)
            raise
        fresh.close()
        with self._lock:
            self._db.close()
            schema.swap_in(fresh_path, self.path)
            self._dimensions, self._matrix = dimensions, None
            self._db = schema.open_database(self.path, dimensions)
        if report is not None:
            report(f"{self.path} rebuilt")
        return str(self.path)

    def _remember_dimensions(self, size: int) -> None:
        if self._dimensions and size != self._dimensions:
            raise IndexMismatch(f"vector of size {size}, expected {self._dimensions}")
        self._dimensions = size
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('dimensions', ?)", (str(size),))

    def close(self) -> None:
        self._db.close()

    # -- bookkeeping -------------------------------------------------------------------------
    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM chunks").fetchone()[0])

    def item_keys(self) -> Iterator[str]:
        rows = self._db.execute("SELECT DISTINCT item_key FROM chunks ORDER BY item_key").fetchall()
        return iter([r[0] for r in rows])

    def documents(self, item_key: str) -> list[Document]:
        rows = self._db.execute(
            "SELECT doc FROM chunks WHERE item_key = ? ORDER BY chunk_id", (item_key,)
        ).fetchall()
        return [Document.model_validate_json(r[0]) for r in rows]

    # -- writes ------------------------------------------------------------------------------
    def state(self, item_key: str) -> ItemState | None:
        row = self._db.execute(
            "SELECT version, deleted FROM items WHERE item_key = ?", (item_key,)
        ).fetchone()
        chunks = self._db.execute(
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

    def _stale(self, item_key: str, version: str | None) -> bool:
        row = self._db.execute("SELECT version FROM items WHERE item_key = ?", (item_key,)).fetchone()
        return bool(row and is_older(version, row[0]))

    def write(
        self,
        item_key: str,
        documents: Sequence[Document],
        vectors: dict[str, Vector],
        *,
        version: str | None = None,
    ) -> bool:
        np: Any = numpy() if vectors else None
        with self._lock, schema.Transaction(self._db):
            if self._stale(item_key, version):
                return False
            keep = {d.chunk_id for d in documents}
            old = self._db.execute(
                "SELECT id, chunk_id FROM chunks WHERE item_key = ?", (item_key,)
            ).fetchall()
            for row_id, cid in old:
                if cid not in keep:
                    self._delete_row(row_id)
            for doc in documents:
                blob = None
                if doc.chunk_id in vectors:
                    vec = vectors[doc.chunk_id]
                    self._remember_dimensions(len(vec))
                    blob = np.asarray(vec, dtype=np.float32).tobytes()
                self._upsert_row(doc, blob)
            self._db.execute(
                "INSERT INTO items VALUES (?, ?, 0) ON CONFLICT(item_key) DO UPDATE SET "
                "version = excluded.version, deleted = 0",
                (item_key, version),
            )
        self._matrix = None
        return True

    def _upsert_row(self, doc: Document, blob: bytes | None) -> None:
        existing = self._db.execute("SELECT id FROM chunks WHERE chunk_id = ?", (doc.chunk_id,)).fetchone()
        payload = doc.model_dump_json()
        if existing is None:
            cur = self._db.execute(
                "INSERT INTO chunks (chunk_id, item_key, kind, content_hash, doc, vector) VALUES (?,?,?,?,?,?)",
                (doc.chunk_id, doc.item_key, doc.kind, doc.content_hash, payload, blob),
            )
            row_id = cur.lastrowid
        else:
            row_id = existing[0]
            self._db.execute(
                "UPDATE chunks SET kind = ?, content_hash = ?, doc = ?, vector = coalesce(?, vector) WHERE id = ?",
                (doc.kind, doc.content_hash, payload, blob, row_id),
            )
            self._drop_text(row_id)
            self._db.execute("DELETE FROM chunk_scopes WHERE id = ?", (row_id,))
        tokens = tokenize(f"{doc.title}\n{doc.text}")
        self._db.execute("INSERT INTO fts (rowid, tokens) VALUES (?, ?)", (row_id, " ".join(tokens)))
        self._count_terms(tokens, +1)
        self._db.executemany(
            "INSERT OR IGNORE INTO chunk_scopes VALUES (?, ?)", [(s, row_id) for s in doc.scopes]
        )

    def _count_terms(self, tokens: Sequence[str], delta: int) -> None:
        """Keep per-term chunk frequencies, for query pruning and for term_frequencies."""
        self._db.executemany(
            "INSERT INTO term_df VALUES (?, ?) ON CONFLICT(term) DO UPDATE SET df = df + excluded.df",
            [(t, delta) for t in set(tokens)],
        )

    def _drop_text(self, row_id: int) -> None:
        row = self._db.execute("SELECT tokens FROM fts WHERE rowid = ?", (row_id,)).fetchone()
        if row is not None:
            self._count_terms(row[0].split(), -1)
        self._db.execute("DELETE FROM fts WHERE rowid = ?", (row_id,))

    def _delete_row(self, row_id: int) -> None:
        self._drop_text(row_id)
        self._db.execute("DELETE FROM chunk_scopes WHERE id = ?", (row_id,))
        self._db.execute("DELETE FROM chunks WHERE id = ?", (row_id,))

    def delete(self, item_key: str, *, version: str | None = None) -> bool:
        with self._lock, schema.Transaction(self._db):
            if self._stale(item_key, version):
                return False
            for (row_id,) in self._db.execute(
                "SELECT id FROM chunks WHERE item_key = ?", (item_key,)
            ).fetchall():
                self._delete_row(row_id)
            # A tombstone keeps the version so a replayed older INSERT cannot resurrect the item.
            self._db.execute(
                "INSERT INTO items VALUES (?, ?, 1) ON CONFLICT(item_key) DO UPDATE SET "
                "version = excluded.version, deleted = 1",
                (item_key, version),
            )
        self._matrix = None
        return True

    # -- reads -------------------------------------------------------------------------------
    def _scope_clause(self, filters: Filters, column: str) -> tuple[str, list[Any]]:
        """Filters as correlated EXISTS clauses: one index probe per candidate row. (An
        ``IN (subquery)`` on the FTS rowid would make SQLite re-run the MATCH per row id.)"""
        clauses: list[str] = []
        params: list[Any] = []
        if filters.scopes is not None:
            marks = ",".join("?" * len(filters.scopes)) or "NULL"
            clauses.append(
                f"EXISTS (SELECT 1 FROM chunk_scopes s WHERE s.id = {column} AND s.scope IN ({marks}))"
            )
            params.extend(filters.scopes)
        if filters.kinds is not None:
            marks = ",".join("?" * len(filters.kinds)) or "NULL"
            clauses.append(f"EXISTS (SELECT 1 FROM chunks k WHERE k.id = {column} AND k.kind IN ({marks}))")
            params.extend(filters.kinds)
        return "".join(f" AND {c}" for c in clauses), params

    def _df(self, terms: list[str]) -> dict[str, int]:
        """How many chunks contain each of the (distinct) terms; terms in none are left out."""
        marks = ",".join("?" * len(terms))
        query = f"SELECT term, df FROM term_df WHERE term IN ({marks}) AND df > 0"
        return dict(self._db.execute(query, terms).fetchall())

    def _prune(self, terms: list[str]) -> list[str]:
        """Drop the most common query terms while the postings to score exceed the budget.

        FTS5 scores every matching row, so a term found in most chunks costs a full scan of
        them while adding almost nothing to BM25 (its IDF is near zero). The rarest term is
        always kept, and small stores are never pruned.
        """
        unique = list(dict.fromkeys(terms))
        if len(unique) < 2:
            return unique
        df = self._df(unique)
        ordered = sorted(unique, key=lambda t: df.get(t, 0))
        while len(ordered) > 1 and sum(df.get(t, 0) for t in ordered) > MAX_POSTINGS:
            ordered.pop()
        return ordered

    def lexical_search(self, query: str, k: int, filters: Filters) -> list[ScoredDocument]:
        expression = _match_expression(self._prune(tokenize(query)))
        if not expression:
            return []
        where, params = self._scope_clause(filters, "fts.rowid")
        sql = f"SELECT rowid, -bm25(fts) FROM fts WHERE fts MATCH ?{where} ORDER BY bm25(fts) LIMIT ?"
        try:
            rows = self._db.execute(sql, [expression, *params, k]).fetchall()
        except sqlite3.OperationalError as exc:
            raise StoreError(f"lexical search failed: {exc}") from exc
        by_id = self._docs_by_id([row_id for row_id, _ in rows]) if rows else {}
        return [ScoredDocument(by_id[row_id], float(score)) for row_id, score in rows]

    def vector_search(self, vector: Vector, k: int, filters: Filters) -> list[ScoredDocument]:
        if self._matrix is None:
            self._matrix = VectorMatrix.load(self._db, self._dimensions)
        nearest = self._matrix.search(vector, k, filters)
        if not nearest:
            return []
        by_id = self._docs_by_id([row_id for row_id, _ in nearest])
        return [ScoredDocument(by_id[row_id], score) for row_id, score in nearest]

    def _docs_by_id(self, ids: list[int]) -> dict[int, Document]:
        marks = ",".join("?" * len(ids))
        rows = self._db.execute(f"SELECT id, doc FROM chunks WHERE id IN ({marks})", ids).fetchall()
        return {row_id: Document.model_validate_json(doc) for row_id, doc in rows}

    def term_frequencies(self, terms: Sequence[str]) -> tuple[int, dict[str, int]]:
        """The chunk count and the chunk frequencies kept in ``term_df`` as chunks are written."""
        unique = list(dict.fromkeys(terms))
        return self.count(), self._df(unique) if unique else {}
