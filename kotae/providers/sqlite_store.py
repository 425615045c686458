"""The embedded store: one SQLite file with FTS5 BM25 for words and exact k-NN for vectors.

Lexical: documents are tokenized by :func:`kotae.text.tokenize` (MeCab for Japanese) and the
tokens stored in an FTS5 table, whose built-in ``bm25()`` ranks matches. Dense: vectors are
float32 blobs, loaded once into a normalized matrix and searched exactly with one matrix-vector
product (fine up to ~100k chunks). Scopes live in their own indexed table and are applied inside
both queries, never after.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from kotae.errors import IndexMismatch, MissingExtra, StoreCorrupt, StoreError
from kotae.models import Document, Filters
from kotae.providers.base import ItemState, ScoredDocument, Vector
from kotae.text import tokenize
from kotae.versions import is_older

SCHEMA_VERSION = "1"
# Postings a lexical query may score before its most common terms are dropped (see _prune).
MAX_POSTINGS = 10_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    chunk_id TEXT NOT NULL UNIQUE,
    item_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    doc TEXT NOT NULL,
    vector BLOB
);
CREATE INDEX IF NOT EXISTS chunks_item ON chunks (item_key);
CREATE TABLE IF NOT EXISTS chunk_scopes (
    scope TEXT NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (scope, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS items (
    item_key TEXT PRIMARY KEY, version TEXT, deleted INTEGER NOT NULL DEFAULT 0
);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(tokens, tokenize = 'unicode61 remove_diacritics 0');
CREATE TABLE IF NOT EXISTS term_df (term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID;
"""


def _np() -> Any:
    try:
        import numpy
    except ImportError:
        raise MissingExtra("numpy", "embedded") from None
    return numpy


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
        self._matrix: Any = None  # (ids, matrix, scopes per row, kinds per row)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._check_meta()
        except sqlite3.DatabaseError as exc:
            raise StoreCorrupt(
                f"{self.path} is not a readable kotae store ({exc}); move it away and ingest again"
            ) from exc

    # -- bookkeeping -------------------------------------------------------------------------
    def _check_meta(self) -> None:
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        if not meta:
            self._db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
            return
        if meta.get("schema_version") != SCHEMA_VERSION:
            raise StoreCorrupt(
                f"{self.path} has store schema {meta.get('schema_version')!r}, this kotae needs "
                f"{SCHEMA_VERSION!r}; move it away and ingest again"
            )
        stored = meta.get("dimensions")
        if stored and self._dimensions and int(stored) != self._dimensions:
            raise IndexMismatch(
                f"{self.path} holds {stored}-dimension vectors but the embedder makes "
                f"{self._dimensions}; run `kotae reindex` or use another KOTAE_DATA_DIR"
            )

    def _remember_dimensions(self, size: int) -> None:
        if self._dimensions and size != self._dimensions:
            raise IndexMismatch(f"vector of size {size}, expected {self._dimensions}")
        self._dimensions = size
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('dimensions', ?)", (str(size),))

    def close(self) -> None:
        self._db.close()

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
        np = _np() if vectors else None
        with self._lock, self._transaction():
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
        """Keep per-term document frequencies, for the IDF weights of term_coverage."""
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
        with self._lock, self._transaction():
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

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    # -- reads -------------------------------------------------------------------------------
    def _scope_clause(self, filters: Filters, column: str) -> tuple[str, list[Any]]:
        """Filters as correlated EXISTS clauses: one index probe per candidate row. (An
        ``IN (subquery)`` on the FTS rowid would make SQLite re-run the MATCH per row id.)"""
        clauses, params = [], []
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

    def _prune(self, terms: list[str]) -> list[str]:
        """Drop the most common query terms while the postings to score exceed the budget.

        FTS5 scores every matching row, so a term found in most chunks costs a full scan of
        them while adding almost nothing to BM25 (its IDF is near zero). The rarest term is
        always kept, and small stores are never pruned.
        """
        unique = list(dict.fromkeys(terms))
        if len(unique) < 2:
            return unique
        marks = ",".join("?" * len(unique))
        df = dict(
            self._db.execute(f"SELECT term, df FROM term_df WHERE term IN ({marks})", unique).fetchall()
        )
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

    def _load_matrix(self) -> Any:
        if self._matrix is None:
            np = _np()
            rows = self._db.execute(
                "SELECT id, vector, kind FROM chunks WHERE vector IS NOT NULL ORDER BY id"
            ).fetchall()
            ids = np.array([r[0] for r in rows], dtype=np.int64)
            if rows:
                matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
                norms = np.linalg.norm(matrix, axis=1, keepdims=True)
                matrix = matrix / np.where(norms == 0, 1, norms)
            else:
                matrix = np.zeros((0, self._dimensions or 1), dtype=np.float32)
            # One boolean column per scope and per kind, so a filter is a few vector ORs.
            scope_rows: dict[str, list[int]] = {}
            kind_rows: dict[str, list[int]] = {}
            positions = {row[0]: position for position, row in enumerate(rows)}
            for position, row in enumerate(rows):
                kind_rows.setdefault(row[2], []).append(position)
            for scope, row_id in self._db.execute("SELECT scope, id FROM chunk_scopes"):
                if row_id in positions:
                    scope_rows.setdefault(scope, []).append(positions[row_id])

            def columns(groups: dict[str, list[int]]) -> dict[str, Any]:
                out = {}
                for name, positions in groups.items():
                    column = np.zeros(len(rows), dtype=bool)
                    column[positions] = True
                    out[name] = column
                return out

            scopes, kinds = columns(scope_rows), columns(kind_rows)
            self._matrix = (ids, matrix, scopes, kinds)
        return self._matrix

    def vector_search(self, vector: Vector, k: int, filters: Filters) -> list[ScoredDocument]:
        np = _np()
        ids, matrix, scopes, kinds = self._load_matrix()
        if len(ids) == 0:
            return []
        query = np.asarray(vector, dtype=np.float32)
        if query.shape[0] != matrix.shape[1]:
            raise IndexMismatch(
                f"query vector has {query.shape[0]} dimensions, the store {matrix.shape[1]}; run `kotae reindex`"
            )
        norm = float(np.linalg.norm(query)) or 1.0
        scores = matrix @ (query / norm)
        allowed = self._mask(filters, scopes, kinds)
        if allowed is not None:
            scores = np.where(allowed, scores, -np.inf)
        take = min(k, len(ids))
        top = np.argpartition(-scores, take - 1)[:take]
        top = top[np.argsort(-scores[top])]
        top = [i for i in top if math.isfinite(scores[i])]
        if not top:
            return []
        by_id = self._docs_by_id([int(ids[i]) for i in top])
        return [ScoredDocument(by_id[int(ids[i])], float(scores[i])) for i in top]

    def _mask(self, filters: Filters, scopes: dict[str, Any], kinds: dict[str, Any]) -> Any:
        if filters.scopes is None and filters.kinds is None:
            return None
        np = _np()
        size = next(iter(kinds.values())).shape[0]
        allowed = np.ones(size, dtype=bool)
        for wanted, columns in ((filters.scopes, scopes), (filters.kinds, kinds)):
            if wanted is not None:
                any_of = np.zeros(size, dtype=bool)
                for name in wanted:
                    if name in columns:
                        any_of |= columns[name]
                allowed &= any_of
        return allowed

    def _docs_by_id(self, ids: list[int]) -> dict[int, Document]:
        marks = ",".join("?" * len(ids))
        rows = self._db.execute(f"SELECT id, doc FROM chunks WHERE id IN ({marks})", ids).fetchall()
        return {row_id: Document.model_validate_json(doc) for row_id, doc in rows}

    def term_coverage(self, query: str, documents: Sequence[Document]) -> list[float]:
        terms = list(dict.fromkeys(tokenize(query)))
        if not terms:
            return [0.0 for _ in documents]
        marks = ",".join("?" * len(terms))
        df = dict(self._db.execute(f"SELECT term, df FROM term_df WHERE term IN ({marks})", terms).fetchall())
        total = max(self.count(), 1)
        idf = {t: math.log(1 + (total - df.get(t, 0) + 0.5) / (df.get(t, 0) + 0.5)) for t in terms}
        whole = sum(idf.values()) or 1.0
        out = []
        for doc in documents:
            present = set(tokenize(f"{doc.title}\n{doc.text}"))
            out.append(sum(w for t, w in idf.items() if t in present) / whole)
        return out


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any error."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
