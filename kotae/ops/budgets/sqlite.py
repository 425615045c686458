"""Budget counters in one SQLite file, for kotae on one machine.

Each check is one ``BEGIN IMMEDIATE`` transaction: it takes the file's write lock before it
reads, so no other thread or process can read the same counts in between, and the check and
the increments are one step. Every call opens its own connection, so threads share nothing but
the file; a writer that holds the lock longer than ``timeout`` seconds makes the call fail
(``database is locked``), which is reported as BudgetUnavailable.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from kotae.ops.budgets.base import BudgetUnavailable, Claim


class SQLiteCounters:
    def __init__(self, path: Path, *, timeout: float = 5.0) -> None:
        self.path, self.timeout = path, timeout
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._transaction() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS budget_counters"
                " (id TEXT PRIMARY KEY, n INTEGER NOT NULL, expiration INTEGER NOT NULL)"
            )

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One immediate transaction on a connection of its own; any SQLite failure (a lock held
        too long, a broken file) rolls it back and becomes BudgetUnavailable."""
        try:
            db = sqlite3.connect(str(self.path), timeout=self.timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise BudgetUnavailable(f"budget file {self.path} cannot be opened: {exc}") from exc
        try:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise BudgetUnavailable(f"budget file {self.path}: {exc}") from exc
        finally:
            db.close()

    def take(self, claims: Sequence[Claim]) -> list[Claim]:
        with self._transaction() as db:
            db.execute("DELETE FROM budget_counters WHERE expiration < ?", (int(time.time()),))
            full = [claim for claim in claims if _count(db, claim.key) >= claim.limit]
            if not full:
                for claim in claims:
                    if claim.add:
                        _add(db, claim.key, claim.add, claim.expires)
        return full

    def add(self, key: str, amount: int, expires: int) -> None:
        with self._transaction() as db:
            _add(db, key, amount, expires)


def _count(db: sqlite3.Connection, key: str) -> int:
    row = db.execute("SELECT n FROM budget_counters WHERE id = ?", (key,)).fetchone()
    return int(row[0]) if row else 0


def _add(db: sqlite3.Connection, key: str, amount: int, expires: int) -> None:
    db.execute(
        "INSERT INTO budget_counters (id, n, expiration) VALUES (?, ?, ?)"
        " ON CONFLICT(id) DO UPDATE SET n = n + excluded.n, expiration = excluded.expiration",
        (key, amount, expires),
    )
