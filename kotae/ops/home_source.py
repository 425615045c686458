"""Where the App Home figures (kotae.ops.home_figures) get their records.

On one machine, the JSONL answer log under the data directory (kotae.ops.log_reader). In AWS
(KOTAE_ANSWER_LOG_BUCKET set), Athena over the Glue tables infra defines: the two queries
home_answers and home_feedback (kotae/ops/athena) run side by side in the workgroup, Athena
reuses a result younger than the cache age itself
(https://docs.aws.amazon.com/athena/latest/ug/reusing-query-results.html), and the rows are kept
in the process for KOTAE_HOME_CACHE_SECONDS, so opening the Home tab again starts no query.
Waiting is bounded: a query that has not finished in time is stopped and reported missing.

A log that cannot be read never stops the figures: its kind is named in ``missing`` and the
figures are computed from what was read. Failures are not cached, so the next open tries again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from kotae.errors import KotaeError, StoreError
from kotae.ops.answer_log import Kind
from kotae.ops.home_figures import WINDOWS, HomeFigures, home_figures
from kotae.ops.log_reader import LocalLog, LogReader, read_records

if TYPE_CHECKING:
    from kotae.settings import Settings

log = logging.getLogger(__name__)
KINDS: tuple[Kind, ...] = ("answers", "feedback")
QUERIES: dict[Kind, str] = {"answers": "home_answers", "feedback": "home_feedback"}
WAIT_SECONDS = 20.0  # how long one Home open waits for Athena (the bot's lazy listener runs it)
MAX_ROWS = 50_000  # the queries' LIMIT (home_answers.sql, home_feedback.sql)


class HomeSource(Protocol):
    def figures(self, now: datetime) -> HomeFigures: ...


class LocalHomeSource:
    """The local JSONL log: read at every open (a few files, no query to pay for)."""

    def __init__(self, reader: LogReader) -> None:
        self.reader = reader

    def figures(self, now: datetime) -> HomeFigures:
        since = now - timedelta(days=max(WINDOWS))
        problems: Counter[str] = Counter()
        records: dict[str, list[dict[str, Any]]] = {}
        for kind in KINDS:
            try:
                records[kind] = list(read_records(self.reader, kind, since, now, problems))
            except StoreError as exc:
                log.warning("the App Home cannot read the %s log: %s", kind, exc)
        return home_figures(
            records.get("answers", []),
            records.get("feedback", []),
            now,
            missing=set(KINDS) - set(records),
            unreadable=problems["unreadable_record"],
        )


class Athena:
    """Start a query, wait for it (bounded), read its rows: the Athena API the Home needs."""

    def __init__(
        self,
        client: Any,
        *,
        database: str,
        workgroup: str,
        reuse_minutes: int = 10,
        wait_seconds: float = WAIT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client, self.database, self.workgroup = client, database, workgroup
        self.reuse_minutes, self.wait_seconds = reuse_minutes, wait_seconds
        self._sleep, self._clock = sleep, clock

    def _call(self, method: str, **args: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self._client, method)(**args)
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"Athena {method} in workgroup {self.workgroup}: {exc}") from exc

    def start(self, sql: str) -> str:
        started = self._call(
            "start_query_execution",
            QueryString=sql,
            QueryExecutionContext={"Database": self.database},
            WorkGroup=self.workgroup,
            ResultReuseConfiguration={
                "ResultReuseByAgeConfiguration": {"Enabled": True, "MaxAgeInMinutes": self.reuse_minutes}
            },
        )
        return str(started["QueryExecutionId"])

    def wait(self, execution_id: str, deadline: float) -> None:
        """Return when the query has succeeded; StoreError when it failed, was cancelled or is
        still running at ``deadline`` (then it is stopped: nobody will read it)."""
        pause = 0.25
        while True:
            status = self._call("get_query_execution", QueryExecutionId=execution_id)
            state = status["QueryExecution"]["Status"]
            if state["State"] == "SUCCEEDED":
                return
            if state["State"] in ("FAILED", "CANCELLED"):
                why = state.get("StateChangeReason") or state.get("AthenaError", {}).get("ErrorMessage", "")
                raise StoreError(f"Athena query {execution_id} {state['State'].lower()}: {why}")
            if self._clock() + pause > deadline:
                self._stop(execution_id)
                raise StoreError(f"Athena query {execution_id} did not finish in {self.wait_seconds:g} s")
            self._sleep(pause)
            pause = min(pause * 2, 2.0)

    def _stop(self, execution_id: str) -> None:
        try:
            self._call("stop_query_execution", QueryExecutionId=execution_id)
        except StoreError as exc:  # it ends by itself; the figures are missing either way
            log.warning("cannot stop Athena query %s: %s", execution_id, exc)

    def rows(self, execution_id: str) -> list[dict[str, str | None]]:
        """Every row as column -> text (None for NULL), all pages; the header row left out."""
        rows: list[dict[str, str | None]] = []
        args: dict[str, Any] = {"QueryExecutionId": execution_id, "MaxResults": 1000}
        columns: list[str] = []
        while True:
            page = self._call("get_query_results", **args)
            result = page["ResultSet"]
            if not columns:
                columns = [c["Name"] for c in result["ResultSetMetadata"]["ColumnInfo"]]
                data = result["Rows"][1:]  # the first page starts with the column names
            else:
                data = result["Rows"]
            rows += [
                {name: cell.get("VarCharValue") for name, cell in zip(columns, row["Data"], strict=False)}
                for row in data
            ]
            if not page.get("NextToken"):
                return rows
            args["NextToken"] = page["NextToken"]

    def run_all(self, queries: dict[Kind, str]) -> tuple[dict[Kind, list[dict[str, Any]]], set[Kind]]:
        """Run the queries side by side: the rows of those that succeeded, and the kinds that did not."""
        deadline = self._clock() + self.wait_seconds
        started: dict[Kind, str] = {}
        failed: set[Kind] = set()
        for kind, sql in queries.items():
            try:
                started[kind] = self.start(sql)
            except StoreError as exc:
                log.warning("the App Home cannot query the %s log: %s", kind, exc)
                failed.add(kind)
        rows: dict[Kind, list[dict[str, Any]]] = {}
        for kind, execution_id in started.items():
            try:
                self.wait(execution_id, deadline)
                rows[kind] = self.rows(execution_id)
                if len(rows[kind]) >= MAX_ROWS:  # the latest MAX_ROWS only: older figures are short
                    log.warning("the App Home read only the latest %d %s records", MAX_ROWS, kind)
            except StoreError as exc:
                log.warning("the App Home cannot query the %s log: %s", kind, exc)
                failed.add(kind)
        return rows, failed


class AthenaHomeSource:
    """The S3 log through Athena, its rows cached for ``cache_seconds`` in this process."""

    def __init__(
        self, athena: Athena, cache_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.athena, self.cache_seconds, self._clock = athena, cache_seconds, clock
        self._cached: tuple[float, dict[Kind, list[dict[str, Any]]]] | None = None
        self._lock = threading.Lock()

    def _sql(self) -> dict[Kind, str]:
        from kotae.ops.athena import render

        return {
            kind: render(name, database=self.athena.database, days=max(WINDOWS))
            for kind, name in QUERIES.items()
        }

    def figures(self, now: datetime) -> HomeFigures:
        with self._lock:
            cached = self._cached
        if cached and self._clock() - cached[0] < self.cache_seconds:
            rows, failed = cached[1], set()
        else:
            try:
                rows, failed = self.athena.run_all(self._sql())
            except KotaeError as exc:  # a database name render() refuses, say
                log.warning("the App Home cannot query the logs: %s", exc)
                rows, failed = {}, set(KINDS)
            if not failed:
                with self._lock:
                    self._cached = (self._clock(), rows)
        return home_figures(rows.get("answers", []), rows.get("feedback", []), now, missing=failed)


_SOURCES: dict[tuple[Any, ...], HomeSource] = {}
_SOURCES_LOCK = threading.Lock()


def source_for(settings: Settings) -> HomeSource:
    """The Home source these settings describe, one per process and configuration (so the
    Athena cache outlives a Lambda invocation)."""
    key = (
        settings.answer_log_bucket,
        settings.aws_region,
        settings.athena_database,
        settings.athena_workgroup,
        settings.home_cache_seconds,
        settings.data_dir,
    )
    with _SOURCES_LOCK:
        if key not in _SOURCES:
            _SOURCES[key] = _build(settings)
        return _SOURCES[key]


def _build(settings: Settings) -> HomeSource:
    if not settings.answer_log_bucket:
        return LocalHomeSource(LocalLog(settings.data_dir / "logs"))
    from kotae.aws import client

    athena = Athena(
        client("athena", settings.aws_region),
        database=settings.athena_database,
        workgroup=settings.athena_workgroup,
        reuse_minutes=max(1, round(settings.home_cache_seconds / 60)),
    )
    return AthenaHomeSource(athena, settings.home_cache_seconds)
