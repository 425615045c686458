"""Exact k-NN for the embedded store: every vector in one L2-normalized float32 matrix, searched
with one matrix-vector product (fine up to ~100k chunks). Scope and kind filters are boolean
masks over the matrix rows, so a filter costs a few vector ORs and applies before the top k is
taken, never after.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass
from typing import Any

from kotae.errors import IndexMismatch, MissingExtra, StoreCorrupt
from kotae.models import Filters
from kotae.providers.base import Vector


def numpy() -> Any:
    try:
        import numpy
    except ImportError:
        raise MissingExtra("numpy", "embedded") from None
    return numpy


def _columns(groups: dict[str, list[int]], rows: int) -> dict[str, Any]:
    """One boolean column over the rows per name, True at the given positions."""
    np = numpy()
    out = {}
    for name, positions in groups.items():
        column = np.zeros(rows, dtype=bool)
        column[positions] = True
        out[name] = column
    return out


@dataclass(frozen=True)
class VectorMatrix:
    """The store's vectors as one snapshot of the file holds them (the store keeps it for that
    snapshot's key only, see :class:`~kotae.providers.sqlite_store.connection.Snapshot`)."""

    ids: Any  # row id of the chunk behind each matrix row
    matrix: Any
    scopes: dict[str, Any]  # scope -> boolean column
    kinds: dict[str, Any]  # kind -> boolean column

    @classmethod
    def load(cls, db: sqlite3.Connection, dimensions: int | None) -> VectorMatrix:
        np = numpy()
        rows = db.execute(
            "SELECT id, vector, kind FROM chunks WHERE vector IS NOT NULL ORDER BY id"
        ).fetchall()
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        if rows and len({len(r[1]) for r in rows}) > 1:
            raise StoreCorrupt(
                "the store holds vectors of different sizes; run `kotae reindex` to rebuild it"
            )
        if rows:
            matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            matrix = matrix / np.where(norms == 0, 1, norms)
        else:
            matrix = np.zeros((0, dimensions or 1), dtype=np.float32)
        positions = {row[0]: position for position, row in enumerate(rows)}
        kind_rows: dict[str, list[int]] = {}
        for position, row in enumerate(rows):
            kind_rows.setdefault(row[2], []).append(position)
        scope_rows: dict[str, list[int]] = {}
        for scope, row_id in db.execute("SELECT scope, id FROM chunk_scopes"):
            if row_id in positions:
                scope_rows.setdefault(scope, []).append(positions[row_id])
        return cls(ids, matrix, _columns(scope_rows, len(rows)), _columns(kind_rows, len(rows)))

    def mask(self, filters: Filters) -> Any:
        """The rows the filters allow (None: all of them)."""
        if filters.scopes is None and filters.kinds is None:
            return None
        np = numpy()
        size = len(self.ids)
        allowed = np.ones(size, dtype=bool)
        for wanted, columns in ((filters.scopes, self.scopes), (filters.kinds, self.kinds)):
            if wanted is not None:
                any_of = np.zeros(size, dtype=bool)
                for name in wanted:
                    if name in columns:
                        any_of |= columns[name]
                allowed &= any_of
        return allowed

    def search(self, vector: Vector, k: int, filters: Filters) -> list[tuple[int, float]]:
        """(row id, cosine similarity) of the k nearest allowed rows, nearest first."""
        if len(self.ids) == 0:
            return []
        np = numpy()
        query = np.asarray(vector, dtype=np.float32)
        if query.shape[0] != self.matrix.shape[1]:
            raise IndexMismatch(
                f"query vector has {query.shape[0]} dimensions, the store {self.matrix.shape[1]}; "
                "run `kotae reindex`"
            )
        scores = self.matrix @ (query / (float(np.linalg.norm(query)) or 1.0))
        allowed = self.mask(filters)
        if allowed is not None:
            scores = np.where(allowed, scores, -np.inf)
        take = min(k, len(self.ids))
        top = np.argpartition(-scores, take - 1)[:take]
        top = top[np.argsort(-scores[top])]
        return [(int(self.ids[i]), float(scores[i])) for i in top if math.isfinite(scores[i])]
