"""What bench/run_all.py runs: each benchmark's script, arguments, figures and targets.

Kept apart from the scripts so the scripts stay runnable on their own, and apart from
report.py so the arithmetic and layout can be tested with small made-up benchmarks.
The targets are the project's (issue 6; the architecture issue added the bot's cold start as a
ratio to a bare Bolt app): they are compared with the median over repeats.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field

_OPS = {"<=": (operator.le, "≤"), ">=": (operator.ge, "≥"), "==": (operator.eq, "=")}


@dataclass(frozen=True)
class Target:
    """A bound a figure must meet, e.g. Target("<=", 30, "ms") for p50 <= 30 ms."""

    op: str
    value: float
    unit: str = ""

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ValueError(f"unknown target operator {self.op!r}")

    def met(self, value: float) -> bool:
        return bool(_OPS[self.op][0](value, self.value))

    def __str__(self) -> str:
        return f"{_OPS[self.op][1]} {self.value:g}{' ' + self.unit if self.unit else ''}"


@dataclass(frozen=True)
class Figure:
    """One number a script prints (its JSON key), how to label and round it, and its target."""

    key: str
    label: str
    digits: int = 3
    target: Target | None = None


@dataclass(frozen=True)
class Benchmark:
    """A script under bench/ and how to read its JSON lines.

    group_by names the fields that tell a script's lines apart (search prints one line per
    store size); `wide` renders one row per group with a column per figure (retrieval quality).
    `repeat` is False for deterministic benchmarks, which run once whatever --repeat says.
    """

    name: str
    title: str
    script: str
    about: str
    args: tuple[str, ...]
    quick_args: tuple[str, ...]
    figures: tuple[Figure, ...]
    repeat: bool = True
    group_by: tuple[str, ...] = field(default_factory=tuple)
    wide: bool = False

    def command(self, quick: bool = False) -> list[str]:
        return [f"bench/{self.script}", *(self.quick_args if quick else self.args)]


ACK = Benchmark(
    name="ack",
    title="Bot ack latency",
    script="bot_ack.py",
    about="Signed app_mention through the real Bolt handler to HTTP 200; cold = a fresh Python "
    "process per start, from spawn to the 200 (median of the script's starts), warm = repeated acks "
    "in one process. Bare Bolt = bench/bare_bolt.py, a minimal Bolt-on-Lambda app (one app_mention "
    "listener: ack, lazy reply) built the way the bot is, started by the same child script with the "
    "same event and stand-ins, its starts interleaved with the bot's. The ratio is taken within each "
    "run (the bot's cold median / bare Bolt's), then its median over runs: it need not equal the "
    "quotient of the two rows above.",
    args=("--runs", "7", "--warm", "200"),
    quick_args=("--runs", "2", "--warm", "20"),
    figures=(
        Figure(
            "cold_process_start_to_200_s_median", "Cold: process start → 200 (s)", 3, Target("<=", 1.0, "s")
        ),
        Figure("cold_first_import_to_200_s_median", "Cold: first import → 200 (s)", 3),
        Figure("bare_cold_process_start_to_200_s_median", "Bare Bolt cold: process start → 200 (s)", 3),
        Figure("bare_cold_first_import_to_200_s_median", "Bare Bolt cold: first import → 200 (s)", 3),
        Figure("cold_ratio_to_bare", "Cold ratio: bot / bare Bolt (×)", 3, Target("<=", 1.15, "×")),
        Figure("warm_ack_ms_median", "Warm ack, median (ms)", 2, Target("<=", 50, "ms")),
        Figure("warm_ack_ms_p95", "Warm ack, p95 (ms)", 2),
        Figure("bare_warm_ack_ms_median", "Bare Bolt warm ack, median (ms)", 2),
    ),
)

INGEST = Benchmark(
    name="ingest",
    title="Ingest throughput",
    script="ingest_throughput.py",
    about="100 DynamoDB stream INSERTs through the real ingest handler, Titan stand-in answering "
    "after 50 ms a call (5 s if called one at a time); then the same items as MODIFYs that "
    "change nothing shown, which must not embed again.",
    args=("--records", "100", "--runs", "5", "--latency", "0.05"),
    quick_args=("--records", "100", "--runs", "1", "--latency", "0.05"),
    figures=(
        Figure("insert_batch_s_median", "100-record batch, warm (s)", 3, Target("<=", 1.0, "s")),
        Figure("first_batch_after_cold_start_s", "First batch after a cold start (s)", 3),
        Figure(
            "unchanged_modify_embedding_calls", "Embedding calls for unchanged MODIFYs", 0, Target("==", 0)
        ),
    ),
)

INGEST_SCALE = Benchmark(
    name="ingest_scale",
    title="Ingest at scale",
    script="ingest_scale.py",
    about="1,000-record INSERT batches through the real ingest handler, Titan stand-in answering "
    "in 20–50 ms (uniform) and throttling 10% of calls (429 ThrottlingException), at "
    "KOTAE_EMBEDDING_CONCURRENCY 8, 16 and 32, each after an untimed warm-up batch. The Bedrock "
    "client runs botocore's standard retry mode here; kotae ships adaptive, whose client-side "
    "rate limiter holds a client at about 5 calls/s under a steady 10% throttle rate (see the "
    "section's note for those figures: `--retry-mode adaptive` takes about half an hour). "
    "Issue 14 sets no target: figures only. p50/p95 are nearest-rank over the 3 batches of a run.",
    args=("--records", "1000", "--runs", "3", "--concurrency", "8", "16", "32", "--retry-mode", "standard"),
    quick_args=("--records", "1000", "--runs", "1", "--concurrency", "16", "--retry-mode", "standard"),
    figures=(
        Figure("records_per_s_median", "Records/s (median batch)", 1),
        Figure("batch_s_p50", "Batch time p50 (s)", 2),
        Figure("batch_s_p95", "Batch time p95 (s)", 2),
        Figure("embed_phase_s_p50", "Embedding phase (prefetch) p50 (s)", 2),
        Figure("calls_per_record", "Embedding calls/record, retries included", 3),
        Figure("calls_per_record_without_retries", "Embedding calls/record, retries excluded", 3),
        Figure("throttled_share", "Share of calls throttled", 3),
        Figure("failed_records", "Failed records", 0),
    ),
    group_by=("retry_mode", "concurrency"),
)

SEARCH = Benchmark(
    name="search",
    title="Search latency",
    script="search_latency.py",
    about="`kotae search` path (tokenize, FTS5 BM25, exact k-NN over 384-d vectors, fusion) on "
    "synthetic embedded stores, warm, a fixed set of queries per size; stores are cached in bench/results/.",
    args=("--sizes", "10000", "100000", "--queries", "200"),
    quick_args=("--sizes", "10000", "--queries", "50"),
    figures=(
        Figure("p50_ms", "p50 (ms)", 2, Target("<=", 30, "ms")),
        Figure("p95_ms", "p95 (ms)", 2),
    ),
    group_by=("chunks",),
)

RETRIEVAL = Benchmark(
    name="retrieval",
    title="Retrieval quality",
    script="retrieval_quality.py",
    about="`kotae eval retrieval` on each BEIR set in ../shared/eval, local embedder "
    "(all-MiniLM-L6-v2), at k = 10. Deterministic, so it runs once.",
    args=(),
    quick_args=("--modes", "lexical"),
    figures=(
        Figure("queries", "queries", 0),
        Figure("ndcg@10", "nDCG@10"),
        Figure("recall@10", "Recall@10"),
        Figure("mrr@10", "MRR@10"),
    ),
    repeat=False,
    group_by=("set", "mode"),
    wide=True,
)

RECORDS = Benchmark(
    name="records",
    title="Record query latency",
    script="record_queries.py",
    about="SQLiteStore.query_records (count, list, latest, group) and the facet look-ups on a "
    "synthetic store of 200k records (200 executions, 12 tasks, 4 prompt versions, 85/8/7% "
    "succeeded/failed/needs review, 10% visible only to another scope), warm, each query of the "
    "script run 25 times, as a reader of scope `public` and with no filters; a figure is taken "
    "over every run of every query of its operation. The store is built once through "
    "SQLiteStore.write and cached in bench/results/.",
    args=("--records", "200000", "--runs", "25"),
    quick_args=("--records", "20000", "--runs", "5"),
    figures=(
        Figure("count_p50_ms", "Count p50 (ms)", 2, Target("<=", 50, "ms")),
        Figure("count_p95_ms", "Count p95 (ms)", 2),
        Figure("list_p50_ms", "List p50 (ms)", 2, Target("<=", 50, "ms")),
        Figure("list_p95_ms", "List p95 (ms)", 2),
        Figure("latest_p50_ms", "Latest p50 (ms)", 2),
        Figure("latest_p95_ms", "Latest p95 (ms)", 2),
        Figure("group_p50_ms", "Group p50 (ms)", 2),
        Figure("group_p95_ms", "Group p95 (ms)", 2),
        Figure("facet_values_p50_ms", "Facet values p50 (ms)", 2),
        Figure("facet_matches_p50_ms", "Facet matches p50 (ms)", 2),
    ),
    group_by=("records", "filters"),
)

BATCH_REINDEX = Benchmark(
    name="batch-reindex",
    title="Batch reindex (Bedrock batch inference path)",
    script="batch_reindex.py",
    about="`kotae reindex --batch` end to end in one process: moto DynamoDB table and S3 bucket, "
    "the control-plane stand-in (tests/standins/bedrock_batch.py) running each job at once, SQLite "
    "store, 256-dimension vectors. Wall time excludes the simulated job (the stand-in writing "
    "outputs); peak RSS is the whole process, moto's copy of table and bucket included.",
    args=("--items", "100000"),
    quick_args=("--items", "5000"),
    figures=(
        Figure("wall_s", "wall (s, job excluded)", 1),
        Figure("simulated_job_s", "simulated job (s)", 1),
        Figure("peak_rss_mb", "peak RSS (MB)", 0),
        Figure("rss_before_mb", "RSS before (MB)", 0),
    ),
    repeat=False,
    group_by=("items",),
)

BENCHMARKS: dict[str, Benchmark] = {
    b.name: b for b in (ACK, INGEST, INGEST_SCALE, SEARCH, RETRIEVAL, RECORDS, BATCH_REINDEX)
}
