"""The embedded store's file: its tables, the checks made when it is opened, transactions, and
the file moves that end a reindex.

The file is in WAL mode (https://www.sqlite.org/wal.html): readers never block the writer, and
the write-ahead log lives next to it as ``<name>-wal`` and ``<name>-shm``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from kotae.errors import IndexMismatch, StoreCorrupt

SCHEMA_VERSION = "1"

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

# What SQLite keeps next to a database file (https://www.sqlite.org/tempfiles.html).
_SIDE_FILES = ("-wal", "-shm", "-journal")


def open_database(path: Path, dimensions: int | None) -> sqlite3.Connection:
    """Open (or create) the store file with its schema, and check it is one this kotae reads."""
    if str(path) != ":memory:":
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        check_meta(db, path, dimensions)
    except sqlite3.DatabaseError as exc:
        raise StoreCorrupt(
            f"{path} is not a readable kotae store ({exc}); move it away and ingest again"
        ) from exc
    return db


def check_meta(db: sqlite3.Connection, path: Path, dimensions: int | None) -> None:
    """Stamp a new file with the schema version; refuse another version or vector size."""
    meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    if not meta:
        db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        return
    if meta.get("schema_version") != SCHEMA_VERSION:
        raise StoreCorrupt(
            f"{path} has store schema {meta.get('schema_version')!r}, this kotae needs "
            f"{SCHEMA_VERSION!r}; move it away and ingest again"
        )
    stored = meta.get("dimensions")
    if stored and dimensions and int(stored) != dimensions:
        raise IndexMismatch(
            f"{path} holds {stored}-dimension vectors but the embedder makes "
            f"{dimensions}; run `kotae reindex` or use another KOTAE_DATA_DIR"
        )


class Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any error."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")


def reindex_path(path: Path) -> Path:
    """Where a reindex builds the new file (``<name>.reindex``), cleared of what an earlier,
    interrupted reindex left there."""
    fresh = path.with_name(path.name + ".reindex")
    remove(fresh)
    return fresh


def remove(path: Path) -> None:
    """Delete a closed store file and its side files, if they exist."""
    for name in (path.name, *(path.name + suffix for suffix in _SIDE_FILES)):
        path.with_name(name).unlink(missing_ok=True)


def swap_in(fresh: Path, path: Path) -> None:
    """Put the closed file ``fresh`` in the place of the closed file ``path`` with one rename
    (atomic on POSIX), then drop the old file's write-ahead log, which belongs to no file now."""
    fresh.replace(path)
    for suffix in _SIDE_FILES:
        path.with_name(path.name + suffix).unlink(missing_ok=True)
