"""Write a synthetic record evaluation set: records.jsonl and questions.jsonl, from a seed.

The records look like an ops normalization pipeline's output (kotae.evaluation.records_data);
the questions, about half in Japanese, carry expected totals, keys and groups worked out from
the records (kotae.evaluation.records_questions). Then evaluate the answers on them:

    python bench/records/generate.py [--seed 12] [--records 30000] [--executions 40]
                                     [--out bench/results/records] [--base samples/knowledge.jsonl]
    kotae eval answers bench/results/records/questions.jsonl --knowledge bench/results/records/records.jsonl

``--base FILE`` names knowledge that the evaluation will load too (its records count in the
expected figures); the generated executions start after the sample's, so their ids never clash.
Prints a summary of the set as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from kotae.errors import KotaeError
from kotae.evaluation.records_questions import LIST_LIMIT
from kotae.evaluation.records_set import write_set

ROOT = Path(__file__).resolve().parents[2]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--records", type=int, default=30_000, help="records in the table")
    parser.add_argument("--executions", type=int, default=40, help="executions they belong to")
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 11, 5), help="first night")
    parser.add_argument("--list-limit", type=int, default=LIST_LIMIT, help="keys expected of a list")
    parser.add_argument("--base", type=Path, action="append", default=[], help="knowledge loaded beside it")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "records")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        summary = write_set(
            args.out,
            seed=args.seed,
            records=args.records,
            executions=args.executions,
            start=args.start,
            list_limit=args.list_limit,
            base=args.base,
        )
    except KotaeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
