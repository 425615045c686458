"""The embedded store's file: its tables, the checks made when it is opened, and the move from
the previous schema.

The file is in WAL mode (https://www.sqlite.org/wal.html): readers never block the writer, and
the write-ahead log lives next to it as ``<name>-wal`` and ``<name>-shm``. Those side files are
found by name, which is why a live store file is never renamed or replaced: a reindex copies the
fresh file *into* it with the backup API (see :mod:`.connection`).

Every chunk belongs to one *visibility class*, its kind and its set of scopes (``classes``), and
the term counts are kept per class (``class_df``): the chunks a filter may see are a union of
whole classes, so the term statistics of what one asker may see are a sum over a few rows.

Records (:mod:`.record_rows`) are one row per item in ``records`` and one per facet in
``facets``, each with the item's class, so a scope filter on them is ``class IN (...)``:
``facets_value`` (name, value, class, record, ts) answers a filter on one facet, time range
included, from the index alone, and gives the items of one value in record order, the order in
which checking their other facets by primary key (record, name) reads the table forwards;
``records_class`` counts what a scope sees, and ``records_recent`` (newest first, then key;
SQLite sorts NULL first, so items without a timestamp come last) lists without sorting.

Words: ``fts`` holds each chunk's tokens (:func:`kotae.text.tokenize`) in two columns, its title
and its text, so the lexical ranking can weigh them apart (:mod:`.lexical`); ``grams`` holds the
character bigrams of the same two fields' Japanese text (:func:`kotae.text.ngrams.char_ngrams`),
and ``gram_df`` how many chunks of the whole store hold each bigram (it only bounds the work of
a query, like the word pruning; FTS5's own fts5vocab counts scan the postings, too slow per query). ``class_df`` counts a chunk's distinct tokens of
both fields together.

A file of an older schema is brought up to date when it is opened, one step at a time, each in
one transaction (``_MIGRATIONS``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path

from kotae.errors import IndexMismatch, StoreCorrupt, StoreError
from kotae.providers.sqlite_store import record_rows, text_rows

SCHEMA_VERSION = "4"

_FTS = "CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(title, body, tokenize = 'unicode61 remove_diacritics 0');"
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    chunk_id TEXT NOT NULL UNIQUE,
    item_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    doc TEXT NOT NULL,
    vector BLOB,
    class INTEGER
);
CREATE INDEX IF NOT EXISTS chunks_item ON chunks (item_key);
CREATE TABLE IF NOT EXISTS chunk_scopes (
    scope TEXT NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (scope, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS items (
    item_key TEXT PRIMARY KEY, version TEXT, deleted INTEGER NOT NULL DEFAULT 0
);
{_FTS}
CREATE VIRTUAL TABLE IF NOT EXISTS grams USING fts5(title, body, tokenize = 'unicode61 remove_diacritics 0');
CREATE TABLE IF NOT EXISTS gram_df (term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS classes (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, scopes TEXT NOT NULL,
    chunks INTEGER NOT NULL DEFAULT 0, UNIQUE (kind, scopes)
);
CREATE TABLE IF NOT EXISTS class_df (
    term TEXT NOT NULL, class INTEGER NOT NULL, df INTEGER NOT NULL, PRIMARY KEY (term, class)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY,
    item_key TEXT NOT NULL UNIQUE,
    class INTEGER NOT NULL,
    ts TEXT,
    chunk INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS records_class ON records (class, ts);
CREATE INDEX IF NOT EXISTS records_recent ON records (ts DESC, item_key, class);
CREATE TABLE IF NOT EXISTS facets (
    record INTEGER NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, class INTEGER NOT NULL, ts TEXT,
    PRIMARY KEY (record, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS facets_value ON facets (name, value, class, record, ts);
"""

# What SQLite keeps next to a database file (https://www.sqlite.org/tempfiles.html).
_SIDE_FILES = ("-wal", "-shm", "-journal")


def open_database(path: Path, dimensions: int | None, *, page_size: int | None = None) -> sqlite3.Connection:
    """Open (or create) the store file with its schema, and check it is one this kotae reads.
    ``page_size`` applies to a new file only (a backup into a WAL file needs equal page sizes)."""
    if str(path) != ":memory:":
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(
            f"cannot open the store file {path} ({exc}); check the path and its permissions"
        ) from exc
    try:
        if page_size:
            db.execute(f"PRAGMA page_size={int(page_size)}")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        check_meta(db, path, dimensions)
    except sqlite3.OperationalError as exc:  # locked by another process, I/O error, read-only
        db.close()
        raise StoreError(f"cannot open the store file {path} ({exc}); try again, or check the disk") from exc
    except sqlite3.Error as exc:
        db.close()
        raise StoreCorrupt(
            f"{path} is not a readable kotae store ({exc}); move it away and ingest again"
        ) from exc
    except StoreError:
        db.close()
        raise
    return db


def check_meta(db: sqlite3.Connection, path: Path, dimensions: int | None) -> None:
    """Stamp a new file with the schema version, bring a file of an older schema up to date,
    and refuse another version or vector size."""
    meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    if not meta:
        db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        return
    version = meta.get("schema_version")
    while version in _MIGRATIONS:
        version = _migrate(db, version)
    if version != SCHEMA_VERSION:
        raise StoreCorrupt(
            f"{path} has store schema {version!r}, this kotae needs "
            f"{SCHEMA_VERSION!r}; move it away and ingest again"
        )
    stored = meta.get("dimensions")
    if stored and dimensions and int(stored) != dimensions:
        raise IndexMismatch(
            f"{path} holds {stored}-dimension vectors but the embedder makes "
            f"{dimensions}; run `kotae reindex`"
        )


def class_key(scopes: Iterable[str]) -> str:
    """How a set of scopes is stored in ``classes.scopes``: a JSON array, sorted, distinct."""
    return json.dumps(sorted(set(scopes)), ensure_ascii=False)


def _migrate(db: sqlite3.Connection, version: str) -> str:
    """Move the file one schema step on from ``version``, in one transaction, and return the
    version it now has. Two processes opening the old file at once: the second finds the step
    done (the version is read again inside the transaction) and goes on from there."""
    db.execute("BEGIN IMMEDIATE")
    try:
        (stored,) = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if stored == version:
            stored, step = _MIGRATIONS[version]
            step(db)
            db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (stored,))
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return str(stored)


def _term_counts_per_class(db: sqlite3.Connection) -> None:
    """Schema 1 counted terms over the whole store (``term_df``). Give every chunk its
    visibility class and count its tokens per class."""
    _classify_chunks(db)
    db.execute("DROP TABLE IF EXISTS term_df")


def _classify_chunks(db: sqlite3.Connection) -> None:
    if "class" not in {row[1] for row in db.execute("PRAGMA table_info(chunks)")}:
        db.execute("ALTER TABLE chunks ADD COLUMN class INTEGER")
    scopes: dict[int, list[str]] = {}
    for scope, row_id in db.execute("SELECT scope, id FROM chunk_scopes"):
        scopes.setdefault(row_id, []).append(scope)
    # Read whatever text columns the FTS table of this file has (schema 1 had one, ``tokens``).
    columns = " || ' ' || ".join(f"coalesce(f.{name}, '')" for name in _fts_columns(db)) or "''"
    rows = db.execute(
        f"SELECT c.id, c.kind, {columns} FROM chunks c LEFT JOIN fts f ON f.rowid = c.id"
    ).fetchall()
    for row_id, kind, tokens in rows:
        key = class_key(scopes.get(row_id, []))
        db.execute("INSERT OR IGNORE INTO classes (kind, scopes) VALUES (?, ?)", (kind, key))
        (class_id,) = db.execute(
            "SELECT id FROM classes WHERE kind = ? AND scopes = ?", (kind, key)
        ).fetchone()
        db.execute("UPDATE chunks SET class = ? WHERE id = ?", (class_id, row_id))
        db.execute("UPDATE classes SET chunks = chunks + 1 WHERE id = ?", (class_id,))
        db.executemany(
            "INSERT INTO class_df VALUES (?, ?, 1) ON CONFLICT(term, class) DO UPDATE SET df = df + 1",
            [(t, class_id) for t in set((tokens or "").split())],
        )


def _fts_columns(db: sqlite3.Connection) -> list[str]:
    return [str(row[1]) for row in db.execute("PRAGMA table_info(fts)")]


def _fields_and_grams(db: sqlite3.Connection) -> None:
    """Schema 3 kept one column of tokens of title and text together, with particles and fillers
    the tokenizer now drops. Index every chunk again from its stored document: title and text
    apart, their bigrams, and the term counts of its class from the new tokens."""
    db.execute("DROP TABLE fts")
    db.execute(_FTS)  # grams and gram_df are already there, empty
    db.execute("DELETE FROM grams")
    db.execute("DELETE FROM gram_df")
    db.execute("DELETE FROM class_df")
    # Only the two fields are read: a document whose other fields no longer parse is indexed too.
    fields = "coalesce(json_extract(doc, '$.title'), ''), coalesce(json_extract(doc, '$.text'), '')"
    for row_id, class_id, title, text in db.execute(f"SELECT id, class, {fields} FROM chunks").fetchall():
        tokens = text_rows.index_text(db, row_id, str(title), str(text))
        text_rows.add_counts(db, class_id, tokens, +1)


# schema version -> (the next one, the step that moves a file to it). Schema 2 kept no records:
# every item is recorded from its first stored chunk.
_MIGRATIONS: dict[str, tuple[str, Callable[[sqlite3.Connection], object]]] = {
    "1": ("2", _term_counts_per_class),
    "2": ("3", record_rows.fill_from_chunks),
    "3": ("4", _fields_and_grams),
}


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
