"""The embedded store's row writes, each inside the caller's write transaction: a chunk's row,
its words in the lexical indexes (:mod:`.text_rows`), its scopes, and the term counts of its
visibility class."""

from __future__ import annotations

import sqlite3

from kotae.errors import IndexMismatch
from kotae.models import Document
from kotae.providers.sqlite_store import terms, text_rows
from kotae.versions import is_older


def stale(db: sqlite3.Connection, item_key: str, version: str | None) -> bool:
    """True when the item's stored version (or tombstone) is newer than ``version``."""
    row = db.execute("SELECT version FROM items WHERE item_key = ?", (item_key,)).fetchone()
    return bool(row and is_older(version, row[0]))


def check_dimensions(db: sqlite3.Connection, size: int, expected: int | None) -> None:
    """Refuse a vector whose size is not the file's (read in this transaction, so a reindex by
    another process is seen); the first vector of a file sets it."""
    row = db.execute("SELECT value FROM meta WHERE key = 'dimensions'").fetchone()
    stored = int(row[0]) if row else expected
    if stored and size != stored:
        raise IndexMismatch(f"vector of size {size}, expected {stored}")
    if row is None:
        db.execute("INSERT INTO meta VALUES ('dimensions', ?)", (str(size),))


def upsert(db: sqlite3.Connection, doc: Document, blob: bytes | None) -> None:
    """Insert or replace one chunk, keeping its stored vector when ``blob`` is None."""
    existing = db.execute("SELECT id FROM chunks WHERE chunk_id = ?", (doc.chunk_id,)).fetchone()
    payload = doc.model_dump_json()
    class_id = terms.class_of(db, doc)
    if existing is None:
        cur = db.execute(
            "INSERT INTO chunks (chunk_id, item_key, kind, content_hash, doc, vector, class) "
            "VALUES (?,?,?,?,?,?,?)",
            (doc.chunk_id, doc.item_key, doc.kind, doc.content_hash, payload, blob, class_id),
        )
        row_id = int(cur.lastrowid or 0)
    else:
        row_id = existing[0]
        _drop_text(db, row_id)
        db.execute(
            "UPDATE chunks SET kind = ?, content_hash = ?, doc = ?, vector = coalesce(?, vector), "
            "class = ? WHERE id = ?",
            (doc.kind, doc.content_hash, payload, blob, class_id, row_id),
        )
        db.execute("DELETE FROM chunk_scopes WHERE id = ?", (row_id,))
    tokens = text_rows.index_text(db, row_id, doc.title, doc.text)
    terms.count(db, class_id, tokens, +1)
    db.executemany("INSERT OR IGNORE INTO chunk_scopes VALUES (?, ?)", [(s, row_id) for s in doc.scopes])


def _drop_text(db: sqlite3.Connection, row_id: int) -> None:
    """Remove the chunk's words from the lexical indexes and from its class's counts."""
    (class_id,) = db.execute("SELECT class FROM chunks WHERE id = ?", (row_id,)).fetchone() or (None,)
    tokens = text_rows.drop_text(db, row_id)
    if tokens is not None and class_id is not None:
        terms.count(db, class_id, tokens, -1)


def delete(db: sqlite3.Connection, row_id: int) -> None:
    _drop_text(db, row_id)
    db.execute("DELETE FROM chunk_scopes WHERE id = ?", (row_id,))
    db.execute("DELETE FROM chunks WHERE id = ?", (row_id,))


def set_item(db: sqlite3.Connection, item_key: str, version: str | None, *, deleted: bool) -> None:
    db.execute(
        "INSERT INTO items VALUES (?, ?, ?) ON CONFLICT(item_key) DO UPDATE SET "
        "version = excluded.version, deleted = excluded.deleted",
        (item_key, version, int(deleted)),
    )
