"""Ingest Lambda at scale: 1,000-record batches, Titan answering in 20–50 ms, 10% of calls throttled.

Runs the real handler (Powertools batch processing, prefetch, SQLite index) with kotae's own
bedrock-runtime client (botocore "adaptive" retries, 6 attempts in all) against the Bedrock
stand-in (tests/standins/bedrock.py) in a process of its own. There each InvokeModel call is
throttled with probability --throttle (HTTP 429 ThrottlingException, the code and status
Bedrock returns when a quota is exceeded:
https://repost.aws/knowledge-center/bedrock-throttling-error), answered at once as a front
door would; every other call answers after a latency drawn uniformly from --latency LOW HIGH.
So botocore backs off, retries, and its client-side rate limiter slows the client down.

For each --retry-mode and each KOTAE_EMBEDDING_CONCURRENCY in --concurrency, a first batch of
--warmup records warms the client (not counted: a new pool size is a new client), then --runs
batches of --records INSERTs, each into a fresh store, are timed. Each item renders to one
chunk, so one text to embed per record. Prints one JSON line per mode and concurrency:
records/s (over the median batch), p50/p95 batch time (nearest rank: with 5 runs, p95 is the
slowest), the embedding phase (the handler's prefetch) within it, and embedding calls per
record with and without the throttled attempts.

kotae ships "adaptive"; "standard" (botocore's other mode, same attempts) is there to show what
the adaptive client-side rate limiter costs: under a steady throttle rate it holds a client at a
few calls a second whatever the concurrency, so `--retry-mode adaptive` takes close to an hour
with the defaults (half an hour with --runs 3), and bench/specs.py runs standard.

    python bench/ingest_scale.py [--records 1000] [--runs 5] [--concurrency 8 16 32]
                                 [--latency 0.02 0.05] [--throttle 0.1] [--seed 14]
                                 [--warmup 200] [--retry-mode adaptive standard]
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest_throughput import Context, event  # noqa: E402
from kotae.aws import retry_config as SHIPPED_RETRY_CONFIG  # noqa: E402
from tests.standins.bedrock import Fault, bedrock_standin  # noqa: E402

THROTTLED = Fault(429, "ThrottlingException", "Too many requests, please wait before trying again.")


@dataclass
class SlowAndThrottled:
    """The stand-in's per-call fault rule: throttle a share of calls, delay the rest.

    The stand-in calls its fault_rule once per call, after its fixed latency (0 here), so the
    rule is where a per-call random latency goes. Counts what it did, for StandIn.counts.
    """

    low: float
    high: float
    throttle: float
    rng: random.Random
    throttled: int = 0
    answered: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, operation: str, body: dict[str, Any]) -> Fault | None:
        with self.lock:
            throttled = self.rng.random() < self.throttle
            delay = self.rng.uniform(self.low, self.high)
            if throttled:
                self.throttled += 1
            else:
                self.answered += 1
        if throttled:
            return THROTTLED
        time.sleep(delay)
        return None

    def counts(self) -> dict[str, int]:
        with self.lock:
            return {"throttled": self.throttled, "answered": self.answered}


def serve(low: float, high: float, throttle: float, seed: int) -> None:
    """The stand-in process: prints its URL, then answers each "counts" line on stdin with a
    JSON line of the calls throttled and answered so far; ends when stdin closes."""
    rule = SlowAndThrottled(low, high, throttle, random.Random(seed))
    with bedrock_standin() as state:
        state.fault_rule = rule
        print(state.url, flush=True)
        for line in sys.stdin:
            if line.strip() == "counts":
                print(json.dumps(rule.counts()), flush=True)


class StandIn:
    """The stand-in process seen from the benchmark: its URL and its call counts."""

    def __init__(self, args: argparse.Namespace) -> None:
        low, high = args.latency
        command = [
            str(Path(__file__).resolve()),
            "--serve",
            "--latency",
            str(low),
            str(high),
            "--throttle",
            str(args.throttle),
        ]
        self.process = subprocess.Popen(
            [sys.executable, *command, "--seed", str(args.seed)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin, self.stdout = self.process.stdin, self.process.stdout
        self.url = self.stdout.readline().strip()

    def counts(self) -> dict[str, int]:
        self.stdin.write("counts\n")
        self.stdin.flush()
        return dict(json.loads(self.stdout.readline()))

    def close(self) -> None:
        self.stdin.close()
        self.process.wait(timeout=10)


def nearest_rank(values: list[float], share: float) -> float:
    """The nearest-rank percentile: the smallest value with at least `share` of them at or below."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@dataclass(frozen=True)
class Batch:
    """One timed batch: the handler's wall time, the embedding phase within it, lost records."""

    seconds: float
    embed_seconds: float
    failed: int


def summarize(concurrency: int, records: int, batches: list[Batch], counts: dict[str, int]) -> dict[str, Any]:
    """One JSON line from the timed batches of one concurrency and the calls they made."""
    seconds = [b.seconds for b in batches]
    calls = counts["throttled"] + counts["answered"]
    per_run = len(batches) * records
    return {
        "bench": "ingest_scale",
        "concurrency": concurrency,
        "records": records,
        "records_per_s_median": round(records / statistics.median(seconds), 1),
        "batch_s_p50": round(nearest_rank(seconds, 0.5), 3),
        "batch_s_p95": round(nearest_rank(seconds, 0.95), 3),
        "embed_phase_s_p50": round(nearest_rank([b.embed_seconds for b in batches], 0.5), 3),
        "batch_s_runs": [round(s, 3) for s in seconds],
        "calls_per_record": round(calls / per_run, 3),
        "calls_per_record_without_retries": round(counts["answered"] / per_run, 3),
        "throttled_share": round(counts["throttled"] / calls, 3) if calls else 0.0,
        "failed_records": sum(b.failed for b in batches),
    }


def one_batch(records: int, start: int) -> Batch:
    """One INSERT batch into a fresh store (its build not timed), its prefetch timed apart."""
    from ingest import handler as lambda_handler
    from ingest.runtime import runtime

    with tempfile.TemporaryDirectory() as data:
        os.environ["KOTAE_DATA_DIR"] = data
        runtime.cache_clear()
        ingestor = runtime().ingestor  # settings, store and clients: cold-start work, not the batch's
        prefetch, spent = ingestor.prefetch, []

        def timed_prefetch(batch: list[Any]) -> int:
            began = time.perf_counter()
            try:
                return int(prefetch(batch))
            finally:
                spent.append(time.perf_counter() - began)

        ingestor.prefetch = timed_prefetch  # type: ignore[method-assign]
        started = time.perf_counter()
        result = lambda_handler.handler(event(records, "INSERT", start), Context())
        seconds = time.perf_counter() - started
        runtime().kotae.close()
    return Batch(seconds, sum(spent), len(result["batchItemFailures"]))


def use_retry_mode(mode: str) -> None:
    """Make kotae.aws build its clients with this botocore retry mode (kotae ships "adaptive"),
    from a fresh client cache; for comparing modes in this process only."""
    import kotae.aws

    kotae.aws.retry_config = functools.partial(SHIPPED_RETRY_CONFIG, mode=mode)
    kotae.aws.client.cache_clear()


def measure(concurrency: int, args: argparse.Namespace, standin: StandIn) -> dict[str, Any]:
    """Warm-up batch, then the timed ones, at one KOTAE_EMBEDDING_CONCURRENCY."""
    os.environ["KOTAE_EMBEDDING_CONCURRENCY"] = str(concurrency)
    # A new client per pool size: warm it (imports, connections, its rate limiter) first.
    one_batch(args.warmup, 0)
    before = standin.counts()
    batches = [one_batch(args.records, (run + 1) * 100_000) for run in range(args.runs)]
    after = standin.counts()
    counts = {key: after[key] - before[key] for key in after}
    return summarize(concurrency, args.records, batches, counts)


def run(args: argparse.Namespace, standin: StandIn) -> None:
    """One JSON line per retry mode and concurrency."""
    for mode in args.retry_mode:
        use_retry_mode(mode)
        for concurrency in args.concurrency:
            line = measure(concurrency, args, standin)
            line.update(
                retry_mode=mode,
                embed_latency_ms=[x * 1000 for x in args.latency],
                throttle=args.throttle,
                load_avg_1m=round(os.getloadavg()[0], 1),
            )
            print(json.dumps(line), flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--latency", type=float, nargs=2, default=[0.02, 0.05], metavar=("LOW", "HIGH"))
    parser.add_argument("--throttle", type=float, default=0.1, help="share of calls throttled")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--warmup", type=int, default=200, help="records in each untimed first batch")
    parser.add_argument(
        "--retry-mode",
        nargs="+",
        choices=("adaptive", "standard"),
        default=["adaptive"],
        help="botocore retry mode of the Bedrock client (kotae ships adaptive)",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.records, args.runs, args.warmup) < 1 or not 0 <= args.throttle < 1:
        parser.error("--records, --runs and --warmup must be at least 1, --throttle in [0, 1)")
    if not 0 <= args.latency[0] <= args.latency[1]:
        parser.error("--latency LOW HIGH needs 0 <= LOW <= HIGH")
    return args


def main() -> None:
    args = parse_args()
    if args.serve:
        serve(*args.latency, args.throttle, args.seed)
        return
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="ap-northeast-1",
        KOTAE_EMBEDDER="titan",
        KOTAE_STORE="sqlite",
        POWERTOOLS_LOG_LEVEL="WARNING",
    )
    standin = StandIn(args)
    os.environ["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = standin.url
    try:
        run(args, standin)
    finally:
        standin.close()


if __name__ == "__main__":
    main()
