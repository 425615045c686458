"""The texts a run embeds, gathered once, and their upload as batch-job input files.

Texts are spooled to a local file as JSONL records while the table is scanned, so memory holds
only their ids. The set of ids names the run: the same texts with the same model settings give
the same run id, so a re-run finds the jobs (and outputs) of an earlier one.

Input quotas (records per file, per job; bytes per file) are settings, since they are per
account: https://docs.aws.amazon.com/bedrock/latest/userguide/batch-inference-data.html and
https://docs.aws.amazon.com/general/latest/gr/bedrock.html#limits_bedrock
"""

from __future__ import annotations

import hashlib
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from kotae.indexing.batch.records import input_line, record_id


class Collection:
    """Unique texts as input records, spooled to a temporary file; thread-safe ``add``."""

    def __init__(self, model_input: Callable[[str], dict[str, Any]], directory: Path | None = None) -> None:
        self._model_input = model_input
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
        self._spool: IO[bytes] = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 (closed by close())
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def add(self, text: str) -> None:
        rid = record_id(text)
        with self._lock:
            if rid in self._seen:
                return
            self._seen.add(rid)
            self._spool.write(rid.encode() + b" " + input_line(rid, self._model_input(text)))

    def __len__(self) -> int:
        return len(self._seen)

    def rids(self) -> list[str]:
        """Every record id, sorted: the order jobs are cut from, the same in every run."""
        return sorted(self._seen)

    def run_id(self, *identity: object) -> str:
        """A short name for this set of texts under these model settings."""
        digest = hashlib.sha256(repr(identity).encode())
        for rid in self.rids():
            digest.update(rid.encode())
        return digest.hexdigest()[:16]

    def lines(self) -> Iterator[tuple[str, bytes]]:
        """(record id, input line) for every record, in the order they were added."""
        with self._lock:
            self._spool.flush()
            self._spool.seek(0)
            for line in self._spool:  # "<record id> <input line>"
                rid, _, record = line.partition(b" ")
                yield rid.decode(), record

    def close(self) -> None:
        self._spool.close()


@dataclass(frozen=True)
class Limits:
    records_per_file: int
    file_bytes: int
    records_per_job: int


def job_count(records: int, limits: Limits) -> int:
    return max(1, -(-records // limits.records_per_job))


def job_of(position: int, records: int, limits: Limits) -> int:
    """The job of the record at ``position`` (in sorted order). Jobs are cut evenly, so each
    holds more than half of ``records_per_job``: at least 100 records, Bedrock's minimum a job,
    when records_per_job is at least 200."""
    return position * job_count(records, limits) // max(1, records)


def upload_inputs(
    collection: Collection, jobs: set[int], limits: Limits, put: Callable[[int, int, IO[bytes]], None]
) -> None:
    """Write the input files of the ``jobs`` (by index) through ``put(job, part, file)``; the
    other jobs' records are skipped (their jobs exist already)."""
    total = len(collection)
    order = {rid: job_of(position, total, limits) for position, rid in enumerate(collection.rids())}
    parts: dict[int, _Part] = {}
    for rid, line in collection.lines():
        job = order[rid]
        if job not in jobs:
            continue
        part = parts.get(job)
        if part is not None and (
            part.records >= limits.records_per_file or part.size + len(line) > limits.file_bytes
        ):
            put(job, part.number, part.finish())
            part = None
        if part is None:
            part = parts[job] = _Part(0 if job not in parts else parts[job].number + 1)
        part.write(line)
    for job, part in parts.items():
        put(job, part.number, part.finish())


class _Part:
    """One input file being written (spooled: in memory while small, on disk when large)."""

    def __init__(self, number: int) -> None:
        self.number, self.records, self.size = number, 0, 0
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=8_000_000)  # noqa: SIM115 (closed on upload)

    def write(self, line: bytes) -> None:
        self.file.write(line)
        self.records += 1
        self.size += len(line)

    def finish(self) -> IO[bytes]:
        self.file.seek(0)
        return self.file
