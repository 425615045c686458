"""Retrieval quality on the public BEIR sets in ../shared/eval, per mode, as JSON lines.

Runs `kotae eval retrieval` for lexical, dense and hybrid on every set found (dense and hybrid
need the local model: extra 'local'). Sets are read in place, never copied.

    HF_HUB_OFFLINE=1 python bench/retrieval_quality.py [--eval-dir ../shared/eval]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--eval-dir", type=Path, default=ROOT.parent / "shared" / "eval")
    parser.add_argument("--modes", nargs="+", default=["lexical", "dense", "hybrid"])
    parser.add_argument("--embedder", default="local")
    args = parser.parse_args()
    sets = (
        sorted(p for p in args.eval_dir.iterdir() if (p / "corpus.jsonl").is_file())
        if args.eval_dir.is_dir()
        else []
    )
    if not sets:
        print(json.dumps({"bench": "retrieval", "skipped": f"no BEIR sets under {args.eval_dir}"}))
        return
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
    for directory in sets:
        for mode in args.modes:
            command = [
                sys.executable,
                "-m",
                "kotae",
                "--embedder",
                args.embedder,
                "eval",
                "retrieval",
                str(directory),
                "--mode",
                mode,
                "--json",
            ]
            done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
            if done.returncode != 0:
                print(
                    json.dumps(
                        {
                            "bench": "retrieval",
                            "set": directory.name,
                            "mode": mode,
                            "error": done.stderr.strip()[-500:],
                        }
                    )
                )
                continue
            result = json.loads(done.stdout)
            print(
                json.dumps(
                    {
                        "bench": "retrieval",
                        "set": directory.name,
                        **{k: v for k, v in result.items() if k != "set"},
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
