"""Where a batch run keeps its vectors: float32 rows in a memory-mapped file, not Python lists.

100k chunks at 1,024 dimensions are 400 MB as float32 and several GB as lists of Python floats;
the file keeps the process small and lets the operating system page rows in and out. A
:class:`PrecomputedEmbedder` serves the rows to the ordinary indexer, so a batch run writes its
index through the same code as every other path.
"""

from __future__ import annotations

import mmap
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from kotae.indexing.batch.records import record_id
from kotae.providers.base import Embedder, Purpose, Vector


class VectorFile:
    """One float32 row per record id, each filled at most once."""

    def __init__(self, directory: Path, rids: Iterable[str], dimensions: int) -> None:
        """A nameless temporary file in ``directory``: the system removes it when it is closed
        or the process ends, so a run leaves nothing behind (its outputs stay in S3)."""
        self.dimensions = dimensions
        self.rows = {rid: row for row, rid in enumerate(rids)}
        self.filled = bytearray(len(self.rows))
        directory.mkdir(parents=True, exist_ok=True)
        size = max(1, len(self.rows)) * dimensions * 4
        self._handle = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 (closed by close())
        self._handle.truncate(size)
        self._map = mmap.mmap(self._handle.fileno(), size)
        self._floats = memoryview(self._map).cast("f")

    def __contains__(self, rid: str) -> bool:
        row = self.rows.get(rid)
        return row is not None and bool(self.filled[row])

    def put(self, rid: str, vector: Sequence[float]) -> bool:
        """Store a vector; False for an id this run did not ask for."""
        row = self.rows.get(rid)
        if row is None:
            return False
        start = row * self.dimensions
        self._floats[start : start + self.dimensions] = memoryview(_pack(vector, self.dimensions)).cast("f")
        self.filled[row] = 1
        return True

    def get(self, rid: str) -> Vector | None:
        row = self.rows.get(rid)
        if row is None or not self.filled[row]:
            return None
        start = row * self.dimensions
        return self._floats[start : start + self.dimensions].tolist()

    def missing(self) -> list[str]:
        """The ids that have no vector yet."""
        return [rid for rid, row in self.rows.items() if not self.filled[row]]

    def close(self) -> None:
        self._floats.release()
        self._map.close()
        self._handle.close()


def _pack(vector: Sequence[float], dimensions: int) -> bytes:
    import array

    packed = array.array("f", vector)
    if len(packed) != dimensions:
        raise ValueError(f"a vector of {len(packed)} values, not {dimensions}")
    return packed.tobytes()


class PrecomputedEmbedder:
    """An embedder that answers from a batch run's vectors and asks ``inner`` (on demand) only
    for texts the run has no vector for: records that failed in the job, items changed since."""

    def __init__(self, inner: Embedder, vectors: VectorFile) -> None:
        self.inner, self.vectors = inner, vectors
        self.name, self.dimensions, self.languages = inner.name, inner.dimensions, inner.languages
        self.on_demand = 0

    def embed(self, texts: Sequence[str], *, purpose: Purpose = "document") -> list[Vector]:
        found = [self.vectors.get(record_id(t)) if purpose == "document" else None for t in texts]
        missing = [t for t, v in zip(texts, found, strict=True) if v is None]
        if missing:
            self.on_demand += len(missing)
            extra = iter(self.inner.embed(missing, purpose=purpose))
            found = [v if v is not None else next(extra) for v in found]
        return [v for v in found if v is not None]
