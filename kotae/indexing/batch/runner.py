"""One batch embedding run: upload the texts, start or find the jobs, follow them, read results.

A run is named by its texts (:meth:`Collection.run_id`) and its jobs by the run and their
position: ``kotae-<run>-j<n>``, with ``-a<k>`` for a retry after a failed attempt. A re-run of
the same texts therefore finds its jobs with ListModelInvocationJobs and attaches to a running
one or reads a finished one's outputs; it never starts a job for work that is running or done.

S3 layout, under ``s3://<bucket>/<prefix>/<run>/``: ``j<n>/input/part-<k>.jsonl`` and, per job,
``<job name>/output/``, where Bedrock writes ``<job id>/part-<k>.jsonl.out`` and
``manifest.json.out``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from kotae.indexing.batch.inputs import Collection, Limits, job_count, upload_inputs
from kotae.indexing.batch.jobs import FAILED, FINISHED, BatchError, Job, Jobs
from kotae.indexing.batch.records import MalformedLine, parse_output_line
from kotae.indexing.batch.vectors import VectorFile


@dataclass(frozen=True)
class RunConfig:
    bucket: str
    prefix: str
    role_arn: str
    model_id: str
    dimensions: int
    limits: Limits
    normalize: bool = True
    timeout_hours: int = 24
    poll_seconds: float = 60.0
    wait_seconds: float = 86_400.0
    retry_limit: int = 100


@dataclass
class Outcome:
    """What a run produced: the vectors, and what the operator is told about it."""

    vectors: VectorFile
    jobs: list[Job]
    started: int
    failed_records: list[tuple[str, str]] = field(default_factory=list)  # (record id, error)

    @property
    def missing(self) -> int:
        return len(self.vectors.missing())


Progress = Callable[[list[Job]], None]


class BatchRun:
    def __init__(self, config: RunConfig, s3: Any, jobs: Jobs, workdir: Path) -> None:
        self.config, self.s3, self.jobs, self.workdir = config, s3, jobs, workdir

    def execute(self, collection: Collection, *, progress: Progress | None = None) -> Outcome:
        """Embed every text of the collection; raises BatchError when the index must not switch."""
        config = self.config
        run = collection.run_id(config.model_id, config.dimensions, config.normalize)
        count = job_count(len(collection), config.limits)
        found = [self._current(run, n) for n in range(count)]
        todo = {n for n, job in enumerate(found) if job is None or job.status in FAILED}
        if todo:
            upload_inputs(collection, todo, config.limits, lambda j, k, f: self._put(run, j, k, f))
        jobs = [self._start(run, n, found[n]) if n in todo else found[n] for n in range(count)]
        ready = self._wait([j for j in jobs if j is not None], progress)
        vectors = VectorFile(self.workdir, collection.rids(), config.dimensions)
        outcome = Outcome(vectors, ready, started=len(todo))
        try:
            for job in ready:
                self._read(job, outcome)
        except BatchError:
            vectors.close()
            raise
        if outcome.missing > config.retry_limit:
            vectors.close()
            raise BatchError(_too_many(outcome, config.retry_limit))
        return outcome

    def _current(self, run: str, n: int) -> Job | None:
        """The latest attempt of job n of this run, if any was started."""
        attempts = self.jobs.named(_job_name(run, n))
        return attempts[-1] if attempts else None

    def _start(self, run: str, n: int, previous: Job | None) -> Job:
        attempt = 0 if previous is None else _attempt(previous.name) + 1
        name = _job_name(run, n) + (f"-a{attempt}" if attempt else "")
        base = f"s3://{self.config.bucket}/{self.config.prefix}/{run}"
        arn = self.jobs.create(
            name,
            role_arn=self.config.role_arn,
            model_id=self.config.model_id,
            input_uri=f"{base}/j{n:03d}/input/",
            output_uri=f"{base}/{name}/output/",
            timeout_hours=self.config.timeout_hours,
        )
        return self.jobs.get(arn)

    def _put(self, run: str, job: int, part: int, body: IO[bytes]) -> None:
        from kotae.aws import translate

        key = f"{self.config.prefix}/{run}/j{job:03d}/input/part-{part:04d}.jsonl"
        try:
            self.s3.upload_fileobj(body, self.config.bucket, key)
        except Exception as exc:
            raise translate(exc, f"uploading s3://{self.config.bucket}/{key}") from exc
        finally:
            body.close()

    def _wait(self, jobs: list[Job], progress: Progress | None) -> list[Job]:
        """Follow the jobs until all have finished; raise if one failed or time runs out."""
        deadline = time.monotonic() + self.config.wait_seconds
        while True:
            jobs = [j if j.status in FINISHED | FAILED else self.jobs.get(j.arn) for j in jobs]
            if progress:
                progress(jobs)
            failed = [j for j in jobs if j.status in FAILED]
            if failed:
                raise BatchError(_failed(failed))
            if all(j.status in FINISHED for j in jobs):
                return jobs
            if time.monotonic() >= deadline:
                raise BatchError(_still_running([j for j in jobs if j.status not in FINISHED]))
            time.sleep(self.config.poll_seconds)

    def _read(self, job: Job, outcome: Outcome) -> None:
        """Put every result of the job's output files into the vectors; malformed lines stop
        the run (nothing can be trusted to be the vector of the text it claims)."""
        dims = self.config.dimensions
        for key, number, raw in self._output_lines(job):
            try:
                result = parse_output_line(raw, dims)
            except MalformedLine as exc:
                raise BatchError(_malformed(job, key, number, str(exc))) from exc
            if result.vector is None:
                outcome.failed_records.append((result.rid, result.error or "error"))
            elif not outcome.vectors.put(result.rid, result.vector):
                raise BatchError(_malformed(job, key, number, f"recordId {result.rid[:40]!r} was not sent"))

    def _output_lines(self, job: Job) -> Iterator[tuple[str, int, bytes]]:
        from kotae.aws import translate

        # Bedrock writes under <output>/<job id>/; each attempt has an output prefix of its own,
        # so everything below it is this job's, whatever the folder layout.
        bucket, _, prefix = job.output_uri.removeprefix("s3://").partition("/")
        folder = f"{prefix.rstrip('/')}/"
        try:
            keys = [
                item["Key"]
                for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=folder)
                for item in page.get("Contents", [])
                if item["Key"].endswith(".jsonl.out")
            ]
            for key in sorted(keys):
                body = self.s3.get_object(Bucket=bucket, Key=key)["Body"]
                for number, raw in enumerate(body.iter_lines(), start=1):
                    if raw.strip():
                        yield key, number, raw
        except Exception as exc:
            raise translate(exc, f"reading the outputs of batch job {job.name}") from exc


def _job_name(run: str, n: int) -> str:
    return f"kotae-{run}-j{n:03d}"


def _attempt(name: str) -> int:
    tail = name.rsplit("-", 1)[-1]
    return int(tail[1:]) if tail.startswith("a") and tail[1:].isdigit() else 0


_UNCHANGED = "nothing switched: the index in use keeps serving"


def _failed(jobs: list[Job]) -> str:
    said = "; ".join(f"{j.name} {j.status}: {j.message or 'no message'}" for j in jobs)
    return (
        f"batch job(s) did not finish ({said}); {_UNCHANGED}. Fix the cause and run the same "
        "command again (it starts new attempts only for these jobs), or run it without --batch "
        "to embed on demand"
    )


def _still_running(jobs: list[Job]) -> str:
    said = ", ".join(f"{j.name} {j.status} ({j.processed}/{j.total or '?'})" for j in jobs)
    return (
        f"batch job(s) still running after KOTAE_BATCH_WAIT_MINUTES: {said}; {_UNCHANGED}. Run the "
        "same command again later: it attaches to these jobs instead of starting new ones"
    )


def _malformed(job: Job, key: str, number: int, why: str) -> str:
    return (
        f"batch job {job.name} wrote a malformed result at s3://…/{key.rsplit('/', 1)[-1]} line "
        f"{number} ({why}); {_UNCHANGED}. Check the job's output files, then run the command without "
        "--batch to embed on demand"
    )


def _too_many(outcome: Outcome, limit: int) -> str:
    examples = "; ".join(f"{rid}: {error}" for rid, error in outcome.failed_records[:3])
    return (
        f"{outcome.missing} record(s) have no vector (more than KOTAE_BATCH_RETRY_LIMIT={limit} to "
        f"embed on demand; e.g. {examples or 'records left unprocessed'}); {_UNCHANGED}. Raise the "
        "limit to embed them on demand, or run the command again once the cause is fixed"
    )
