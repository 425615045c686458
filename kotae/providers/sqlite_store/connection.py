"""The store file as this process sees it: one connection, its transactions, and the checks that
keep it on the file other processes write.

* Every read runs in one read transaction, so all its statements see the same committed state
  (a snapshot, https://www.sqlite.org/isolation.html), and reports a key for that state:
  the connection, ``PRAGMA data_version`` (which changes when *another* connection commits,
  https://www.sqlite.org/pragma.html#pragma_data_version) and this connection's own commits.
  Whatever a reader caches from the file is valid for exactly one key.
* Before every read and write the file at the path is compared with the one the connection
  opened (device and inode). A file put in its place is opened; a removed file is an error, and
  a write whose file was removed or replaced while it ran is an error too, never a success.
* Every ``sqlite3`` error becomes a :class:`~kotae.errors.StoreError`, and damage (corrupt pages,
  rows that are not what the store wrote) a :class:`~kotae.errors.StoreCorrupt`.

SQLite finds the write-ahead log by the file's name, so a live store file must not be replaced
(https://www.sqlite.org/howtocorrupt.html, 2.4): a connection to the replaced file would, on
closing, remove the log of the new one. A reindex therefore copies the fresh file into the live
one with the backup API (one write transaction), and connections to a file that someone else
replaced are retired, not closed, until the store is closed.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pydantic

from kotae.errors import StoreCorrupt, StoreError
from kotae.providers.sqlite_store import schema

Identity = tuple[int, int]


def identity(path: Path) -> Identity | None:
    """The file now at the path (device, inode), or None when there is none."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


@contextmanager
def translated(path: Path, what: str) -> Iterator[None]:
    """sqlite3 errors (and stored rows that do not parse) as store errors that say what to do."""
    try:
        yield
    except sqlite3.Error as exc:
        if _damage(exc):
            raise StoreCorrupt(
                f"{path} is damaged ({what}: {_name(exc)}: {exc}); move it away and ingest again, "
                "or restore a backup"
            ) from exc
        # Locked, I/O error, disk full, a closed connection, misuse.
        raise StoreError(f"{what} failed on {path} ({_name(exc)}: {exc})") from exc
    except pydantic.ValidationError as exc:
        raise StoreCorrupt(
            f"{path} is damaged ({what}: a stored chunk does not parse, {exc.error_count()} error(s)); "
            "move it away and ingest again, or restore a backup"
        ) from None  # the validation error quotes the stored content


def _damage(exc: sqlite3.Error) -> bool:
    """Corrupt pages (SQLITE_CORRUPT and its extended codes) or not a database at all; Python
    raises both as a plain DatabaseError."""
    name = getattr(exc, "sqlite_errorname", None)
    if name:
        return name.startswith("SQLITE_CORRUPT") or name == "SQLITE_NOTADB"
    return type(exc) is sqlite3.DatabaseError


def _name(exc: sqlite3.Error) -> str:
    return getattr(exc, "sqlite_errorname", None) or type(exc).__name__


@dataclass(frozen=True)
class Snapshot:
    """One read transaction: its connection and the key of the state it sees."""

    db: sqlite3.Connection
    key: tuple[int, int, int]


class StoreFile:
    """The connection to one store file, followed across other processes' writes."""

    def __init__(self, path: Path, dimensions: int | None, *, page_size: int | None = None) -> None:
        self.path, self.dimensions, self._page_size = path, dimensions, page_size
        self._lock = threading.RLock()
        self._retired: list[sqlite3.Connection] = []
        self._openings = self._commits = 0
        self._connect()

    def _connect(self) -> None:
        """Open the file at the path, making sure the identity kept is that of the file opened
        (a file replaced while it was being opened is opened again)."""
        memory = str(self.path) == ":memory:"
        for _ in range(5):
            before = None if memory else identity(self.path)
            db = schema.open_database(self.path, self.dimensions, page_size=self._page_size)
            after = None if memory else identity(self.path)
            if memory or before in (None, after):
                self._db, self._identity = db, after
                self._openings += 1
                return
            self._retired.append(db)
        raise StoreError(f"{self.path} keeps being replaced while it is opened; stop what replaces it")

    def _follow(self) -> None:
        """Move to the file now at the path if another one took its place; fail if it is gone."""
        if self._identity is None:
            return
        now = identity(self.path)
        if now == self._identity:
            return
        if now is None:
            raise StoreError(
                f"the store file {self.path} was removed while kotae had it open; restore it, or "
                "ingest again into a new store and restart this process"
            )
        self._retired.append(self._db)
        self._connect()

    @contextmanager
    def reading(self, what: str) -> Iterator[Snapshot]:
        """One read transaction on the current file."""
        with self._lock, translated(self.path, what):
            self._follow()
            db = self._db
            db.execute("BEGIN")
            try:
                # The first statement of the transaction starts its snapshot.
                (version,) = db.execute("PRAGMA data_version").fetchone()
                yield Snapshot(db, (self._openings, int(version), self._commits))
            finally:
                if db.in_transaction:
                    db.execute("COMMIT")

    @contextmanager
    def writing(self, what: str) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT, rolled back on any error) on the
        current file; an error if that file was removed or replaced before it committed."""
        with self._lock, translated(self.path, what):
            self._follow()
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            self._commits += 1
            if self._identity is not None and identity(self.path) != self._identity:
                raise StoreError(
                    f"the store file {self.path} was removed or replaced during the {what}, which may "
                    "be lost; run it again"
                )

    def check(self) -> None:
        """Check the schema version and vector size of the current file again."""
        with self._lock, translated(self.path, "check"):
            self._follow()
            schema.check_meta(self._db, self.path, self.dimensions)

    def page_size(self) -> int:
        with self.reading("read page size") as snapshot:
            return int(snapshot.db.execute("PRAGMA page_size").fetchone()[0])

    def copy_from(self, fresh: Path, dimensions: int) -> None:
        """Make the current file's content that of the closed file ``fresh``, in one write
        transaction of the backup API (https://www.sqlite.org/backup.html): readers see the old
        content or the new one, and other processes see a commit (their data_version moves)."""
        with self._lock, translated(self.path, "reindex"):
            self._follow()
            source = sqlite3.connect(str(fresh))
            try:
                source.backup(self._db)
            finally:
                source.close()
            self._commits += 1
            self.dimensions = dimensions

    def close(self) -> None:
        with self._lock:
            for db in (self._db, *self._retired):
                db.close()
            self._retired.clear()
