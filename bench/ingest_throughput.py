"""Ingest Lambda throughput: 100 INSERT records, Titan answering after 50 ms a call.

Runs the real handler (Powertools batch processing, prefetch, SQLite index) with a real
botocore client against the local Bedrock stand-in (tests/standins/bedrock.py), run in a
process of its own and set to 50 ms of latency per call. The first batch after a cold start
(botocore loading its service model, first connections) is timed separately from warm ones. One call at a time would take 100 x 50 ms = 5 s. Then the same 100 items
arrive again as MODIFYs that change nothing the documents show: they must make 0 embedding
calls. Prints one JSON line with the median of --runs runs.

    python bench/ingest_throughput.py [--records 100] [--runs 5] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from boto3.dynamodb.types import TypeSerializer  # noqa: E402


class Context:
    function_name, memory_limit_in_mb, aws_request_id = "kotae-ingest", 512, "bench"
    invoked_function_arn = "arn:aws:lambda:ap-northeast-1:123456789012:function:kotae-ingest"


def event(records: int, name: str, start: int, note: str = "") -> dict[str, Any]:
    serialize = TypeSerializer().serialize
    out = []
    for i in range(records):
        item = {
            "item_key": f"faq-{i:04d}",
            "kind": "faq",
            "question": f"How does process {i} work?",
            "answer": f"Process {i} runs nightly and reports to #ops-{i % 7}. " * 3,
            "owner": note,
        }
        out.append(
            {
                "eventID": f"e{start + i}",
                "eventName": name,
                "eventSource": "aws:dynamodb",
                "dynamodb": {
                    "Keys": {"item_key": {"S": item["item_key"]}},
                    "NewImage": {k: serialize(v) for k, v in item.items()},
                    "SequenceNumber": str(10**20 + start + i),
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                },
            }
        )
    return {"Records": out}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="ap-northeast-1",
        KOTAE_EMBEDDER="titan",
        KOTAE_STORE="sqlite",
        POWERTOOLS_LOG_LEVEL="WARNING",
    )
    import kotae.aws
    from ingest import handler as lambda_handler
    from ingest.runtime import runtime

    server = subprocess.Popen(
        [sys.executable, "-m", "tests.standins.bedrock", "--latency", str(args.latency)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    url = server.stdout.readline().strip()

    def calls() -> int:
        with urllib.request.urlopen(f"{url}/_calls") as answer:
            return int(json.load(answer).get("invoke", 0))

    os.environ["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = url
    inserts, cold, unchanged_calls = [], [], []
    try:
        for run in range(args.runs + 1):
            with tempfile.TemporaryDirectory() as data:
                os.environ["KOTAE_DATA_DIR"] = data
                runtime.cache_clear()
                if run == 0:
                    kotae.aws.client.cache_clear()
                runtime()  # cold start work (settings, store, clients) is not part of the batch
                started = time.perf_counter()
                result = lambda_handler.handler(event(args.records, "INSERT", 0), Context())
                (cold if run == 0 else inserts).append(time.perf_counter() - started)
                assert result == {"batchItemFailures": []}, result
                before = calls()
                result = lambda_handler.handler(
                    event(args.records, "MODIFY", 10_000, note=f"run {run}"), Context()
                )
                assert result == {"batchItemFailures": []}, result
                unchanged_calls.append(calls() - before)
                runtime().kotae.close()
    finally:
        server.stdin.close()
        server.terminate()
        server.wait()
    print(
        json.dumps(
            {
                "bench": "ingest",
                "records": args.records,
                "embed_latency_ms": args.latency * 1000,
                "insert_batch_s_median": round(statistics.median(inserts), 3),
                "first_batch_after_cold_start_s": round(cold[0], 3),
                "insert_batch_s_runs": [round(t, 3) for t in inserts],
                "unchanged_modify_embedding_calls": max(unchanged_calls),
            }
        )
    )


if __name__ == "__main__":
    main()
