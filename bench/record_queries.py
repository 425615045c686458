"""Record query latency (count, list, latest, group, facet look-ups) on a 200k-record embedded store.

Builds the store once under bench/results/ (reused on later runs, resumed if a build was cut
short) through SQLiteStore.write, lexical only (no embedder), from a seeded generator: 200
executions over 60 days, 12 tasks, 4 prompt versions, statuses at realistic rates (85%
succeeded, 8% failed, 7% needs review), one record in ten visible only to scope `ops`, one in a
hundred without a timestamp, one in twenty with two chunks. Then times each query of QUERIES
through SQLiteStore.query_records (and facet_values / facet_matches), warm, --runs times each,
once as a reader of scope `public` and once with no filters, and prints one JSON line per
reader: p50/p95 per operation over all its queries' runs, and per query under "queries".

    python bench/record_queries.py [--records 200000] [--runs 25] [--out bench/results]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kotae.models import Document, Filters
from kotae.providers.sqlite_store import SQLiteStore
from kotae.records.query import RecordQuery

GENERATOR = "v1"  # part of the file name: a change to the data below builds a new store
START = datetime(2026, 9, 1, tzinfo=UTC)
DAYS = 60
EXECUTIONS = [f"ex-{(START + timedelta(days=i * DAYS // 200)):%Y%m%d}-{i % 4 + 1:02d}" for i in range(200)]
TASKS = [f"task_{name}" for name in "abcdefghijkl"]
PROMPTS = ["v1", "v2", "v3", "v4"]
STATUSES = (["succeeded", "failed", "needs_review"], [85, 8, 7])
READERS = {"public": Filters(scopes=("public",)), "none": Filters()}


def record(i: int) -> list[Document]:
    """The chunks of record i: the same for a given i on every run (its own seeded generator)."""
    rng = random.Random(i)
    execution = rng.randrange(len(EXECUTIONS))
    key = f"rec-{i:06d}"
    facets = {
        "execution_id": EXECUTIONS[execution],
        "task_name": rng.choice(TASKS),
        "status": rng.choices(*STATUSES)[0],
        "prompt_version": rng.choices(PROMPTS, [1, 2, 3, 4])[0],
        "record_id": key,
    }
    moment = START + timedelta(days=execution * DAYS / len(EXECUTIONS), seconds=rng.randrange(86_400))
    stamp = None if i % 100 == 99 else moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    text = f"{facets['task_name']} {facets['status']} input {rng.randrange(10**6)} normalized {rng.randrange(10**6)}"
    return [
        Document(
            chunk_id=f"{key}#{part:04d}",
            item_key=key,
            kind="record",
            title=f"{key} {facets['execution_id']}",
            text=text if part == 0 else f"error detail {rng.randrange(10**6)}",
            chunk_index=part,
            scopes=["ops"] if i % 10 == 7 else ["public"],
            content_hash=f"{i}-{part}",
            facets=facets,
            timestamp=stamp,
        )
        for part in range(2 if i % 20 == 3 else 1)
    ]


def build(path: Path, size: int) -> SQLiteStore:
    """The store of ``size`` records at ``path``, written (or finished) through the store API."""
    store = SQLiteStore(path)
    have = store.query_records(RecordQuery(operation="count"), Filters()).total
    for i in range(have, size):
        documents = record(i)
        store.write(documents[0].item_key, documents, {})
    return store


SINCE, UNTIL = "2026-10-01T00:00:00Z", "2026-10-08T00:00:00Z"
EXECUTION = EXECUTIONS[57]
# name -> the RecordQuery's fields; the operation is the figure it is timed under
RECORD_QUERIES: dict[str, dict[str, Any]] = {
    "count all": {"operation": "count"},
    "count failed": {"operation": "count", "where": {"status": ["failed"]}},
    "count failed or review": {"operation": "count", "where": {"status": ["failed", "needs_review"]}},
    "count succeeded in a week": {
        "operation": "count", "where": {"status": ["succeeded"]}, "since": SINCE, "until": UNTIL,
    },
    "count failed in an execution": {
        "operation": "count", "where": {"execution_id": [EXECUTION], "status": ["failed"]},
    },
    "count in a week": {"operation": "count", "since": SINCE, "until": UNTIL},
    "count task, prompt, status": {
        "operation": "count",
        "where": {"task_name": ["task_c"], "prompt_version": ["v3"], "status": ["succeeded"]},
    },
    "list all": {"operation": "list"},
    "list failed": {"operation": "list", "where": {"status": ["failed"]}},
    "list succeeded, 100": {"operation": "list", "where": {"status": ["succeeded"]}, "limit": 100},
    "list an execution": {"operation": "list", "where": {"execution_id": [EXECUTION]}},
    "list failed in a week": {"operation": "list", "where": {"status": ["failed"]}, "since": SINCE, "until": UNTIL},
    "latest": {"operation": "latest", "limit": 1},
    "latest failed of a task": {
        "operation": "latest", "where": {"status": ["failed"], "task_name": ["task_a"]}, "limit": 1,
    },
    "group by status": {"operation": "group", "group_by": ["status"]},
    "group status by prompt": {"operation": "group", "group_by": ["status", "prompt_version"]},
    "group an execution by status": {
        "operation": "group", "where": {"execution_id": [EXECUTION]}, "group_by": ["status"],
    },
    "group failed by task in a week": {
        "operation": "group", "where": {"status": ["failed"]}, "since": SINCE, "until": UNTIL,
        "group_by": ["task_name"],
    },
}
WORDS = [EXECUTION, "failed", "rec-000123", *[f"word{i}" for i in range(27)]]


def queries() -> dict[str, tuple[str, Callable[[SQLiteStore, Filters], Any]]]:
    """name -> (operation it is timed under, the call)."""

    def record_query(query: RecordQuery) -> Callable[[SQLiteStore, Filters], Any]:
        return lambda store, filters: store.query_records(query, filters)

    calls = {name: (q["operation"], record_query(RecordQuery(**q))) for name, q in RECORD_QUERIES.items()}
    calls["execution ids from a prefix"] = (
        "facet_values",
        lambda store, filters: store.facet_values("record", "execution_id", filters, prefix="ex-202610"),
    )
    calls["facet matches of 30 words"] = (
        "facet_matches",
        lambda store, filters: store.facet_matches("record", WORDS, filters),
    )
    return calls


def percentiles(timings: list[float]) -> dict[str, float]:
    ordered = sorted(timings)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95 + 0.5) - 1)], 2),
    }


def measure(store: SQLiteStore, filters: Filters, runs: int) -> dict[str, Any]:
    """Each query run once to warm up, then ``runs`` times; p50/p95 per query and per operation."""
    by_operation: dict[str, list[float]] = {}
    detail: dict[str, dict[str, Any]] = {}
    for name, (operation, call) in queries().items():
        result = call(store, filters)
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            call(store, filters)
            timings.append((time.perf_counter() - started) * 1000)
        by_operation.setdefault(operation, []).extend(timings)
        total = getattr(result, "total", None)
        detail[name] = {**percentiles(timings), "total": total if total is not None else len(result)}
    figures = {
        f"{operation}_{key}": value
        for operation, timings in by_operation.items()
        for key, value in percentiles(timings).items()
    }
    return {**figures, "queries": detail}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=25, help="timed runs of each query")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    store = build(args.out / f"records-{args.records}-{GENERATOR}.sqlite3", args.records)
    built = time.perf_counter() - started
    try:
        for reader, filters in READERS.items():
            line = {"bench": "records", "records": args.records, "filters": reader, "build_s": round(built, 1)}
            print(json.dumps({**line, **measure(store, filters, args.runs)}), flush=True)
    finally:
        store.close()


if __name__ == "__main__":
    main()
