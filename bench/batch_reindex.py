"""`kotae reindex --batch` end to end on N items against the stand-ins: wall time and peak memory.

Everything runs in this process: moto (mock_aws) holds the knowledge table and the batch bucket,
tests/standins/bedrock_batch.py plays the Bedrock control plane (its job "runs" at once, reading
the input JSONL from S3 and writing the documented output files), tests/standins/bedrock.py
plays bedrock-runtime for anything embedded on demand. The store is SQLite. The command is the
real CLI (`kotae reindex --batch`): scan, JSONL upload, job start, polling, output read into the
memory-mapped vector file, the indexing pass, the switch.

Wall time excludes the simulated job (the seconds the stand-in spends writing outputs, which
Bedrock would spend for real); peak RSS is ru_maxrss of the whole process, moto's copy of the
table and bucket included, so the RSS before the command is printed too. Prints one JSON line.

    python bench/batch_reindex.py [--items 100000] [--dimensions 256]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _fill(client: object, table: str, items: int) -> None:
    """N FAQ items (English and Japanese) written 25 at a time."""
    batch = []
    for i in range(items):
        question = (
            f"How do I reset the VPN token for site {i}?"
            if i % 2
            else f"拠点{i}のVPNトークンを再設定するには？"
        )
        item = {
            "item_key": {"S": f"faq-{i}"},
            "kind": {"S": "faq"},
            "question": {"S": question},
            "answer": {"S": f"Open the portal, choose site {i}, then Reset. Ticket queue ops-{i % 97}."},
        }
        batch.append({"PutRequest": {"Item": item}})
        if len(batch) == 25:
            client.batch_write_item(RequestItems={table: batch})  # type: ignore[attr-defined]
            batch = []
    if batch:
        client.batch_write_item(RequestItems={table: batch})  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--dimensions", type=int, default=256, choices=(256, 512, 1024))
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="kotae-batch-bench-"))
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "ap-northeast-1",
            "KOTAE_AWS_REGION": "ap-northeast-1",
            "KOTAE_KNOWLEDGE_TABLE": "knowledge",
            "KOTAE_DATA_DIR": str(data),
            "KOTAE_EMBEDDER": "titan",
            "KOTAE_EMBEDDING_DIMENSIONS": str(args.dimensions),
            "KOTAE_BATCH_BUCKET": "kotae-batch-bench",
            "KOTAE_BATCH_ROLE_ARN": "arn:aws:iam::123456789012:role/kotae-batch",
            "KOTAE_BATCH_POLL_SECONDS": "0",
            "KOTAE_BATCH_MIN_RECORDS": "100",
        }
    )
    import boto3
    from moto import mock_aws

    from kotae.cli.main import main as kotae_main
    from tests.standins.bedrock import bedrock_standin
    from tests.standins.bedrock_batch import batch_standin
    from tests.standins.streams import ITEM_KEY, create_table

    with mock_aws(), bedrock_standin() as runtime, batch_standin() as batch:
        os.environ["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = runtime.url
        os.environ["AWS_ENDPOINT_URL_BEDROCK"] = batch.url
        dynamodb = boto3.client("dynamodb", region_name="ap-northeast-1")
        create_table(dynamodb, "knowledge", ITEM_KEY, "NEW_AND_OLD_IMAGES")
        boto3.client("s3", region_name="ap-northeast-1").create_bucket(
            Bucket="kotae-batch-bench", CreateBucketConfiguration={"LocationConstraint": "ap-northeast-1"}
        )
        _fill(dynamodb, "knowledge", args.items)
        before = _rss_mb()
        sys.argv = ["kotae", "reindex", "--batch"]
        started = time.perf_counter()
        code = 0
        try:
            kotae_main()
        except SystemExit as exc:
            code = int(exc.code or 0)
        wall = time.perf_counter() - started
        print(
            json.dumps(
                {
                    "items": args.items,
                    "dimensions": args.dimensions,
                    "exit": code,
                    "wall_s": round(wall - batch.run_seconds, 2),
                    "simulated_job_s": round(batch.run_seconds, 2),
                    "peak_rss_mb": round(_rss_mb(), 1),
                    "rss_before_mb": round(before, 1),
                    "jobs": len(batch.calls("CreateModelInvocationJob")),
                    "on_demand_calls": len(runtime.calls("invoke")),
                }
            ),
            flush=True,
        )
    shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
