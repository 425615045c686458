"""Peak memory of `kotae ingest` as the file grows: it should stay flat, not follow the file.

Writes N generated FAQ items (English and Japanese, about 400 bytes a line, every 50th key
written twice so the last-line-wins pass has work) to a JSONL file, then runs the real
`kotae ingest` in a fresh Python process per size, lexical-only (KOTAE_EMBEDDER=none,
SQLite store, nothing embedded), and reads that process's peak RSS with
resource.getrusage(RUSAGE_SELF).ru_maxrss after the command ends. A run with 100 items gives
the floor (interpreter, imports, store) that the growth is measured from. Prints one JSON line
per size.

    python bench/ingest_memory.py [--sizes 20000 100000] [--source DIR]

--source runs another copy of the project (e.g. `git archive HEAD | tar -x -C /tmp/head`) so
the figures before and after a change come from the same generated files.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLOOR_ITEMS = 100

CHILD = """
import resource, sys
from kotae.cli import main
sys.argv = ["kotae", "ingest", sys.argv[1]]
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code or 0
print("MAXRSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, code, file=sys.stderr)
"""


def item_line(i: int) -> str:
    """One knowledge item; every 50th key is written again later in the file."""
    if i % 2:
        item = {
            "item_key": f"faq-en-{i:07d}",
            "kind": "faq",
            "question": f"How do I reset the password of service {i} from outside the office?",
            "answer": f"Open the portal, choose service {i}, and follow the steps under Security. "
            f"If the VPN is down, ask #it-help-{i % 13} for a one-time code. " * 2,
        }
    else:
        item = {
            "item_key": f"faq-ja-{i:07d}",
            "kind": "faq",
            "question": f"サービス{i}の経費精算はいつまでに申請すればよいですか？",
            "answer": f"毎月末日までに経費システムから申請してください。サービス{i}の承認者は部長です。",
        }
    return json.dumps(item, ensure_ascii=False)


def write_items(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for i in range(count):
            handle.write(item_line(i) + "\n")
        for i in range(0, count, 50):  # later lines for the same keys: they must win
            handle.write(item_line(i).replace("portal", "new portal").replace("部長", "課長") + "\n")


def peak_rss_mb(source: Path, items: Path) -> tuple[float, int]:
    """Run `kotae ingest` in a fresh process on a fresh store; its peak RSS and exit code."""
    with tempfile.TemporaryDirectory() as data:
        env = {
            **os.environ,
            "KOTAE_DATA_DIR": data,
            "KOTAE_EMBEDDER": "none",
            "KOTAE_STORE": "sqlite",
            "HF_HUB_OFFLINE": "1",
            "PYTHONPATH": str(source),
        }
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(items)],
            cwd=source,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    line = next((x for x in done.stderr.splitlines() if x.startswith("MAXRSS_KB")), None)
    if line is None:
        raise SystemExit(f"kotae ingest failed:\n{done.stderr[-2000:]}")
    _, kilobytes, code = line.split()
    return int(kilobytes) / 1024, int(code)  # Linux reports ru_maxrss in KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--source", type=Path, default=ROOT, help="project copy to run (default: this one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        floor_file = Path(tmp) / "floor.jsonl"
        write_items(floor_file, FLOOR_ITEMS)
        floor, _ = peak_rss_mb(args.source, floor_file)
        for size in args.sizes:
            items = Path(tmp) / f"items-{size}.jsonl"
            write_items(items, size)
            peak, code = peak_rss_mb(args.source, items)
            print(
                json.dumps(
                    {
                        "bench": "ingest_memory",
                        "items": size,
                        "file_mb": round(items.stat().st_size / 2**20, 1),
                        "peak_rss_mb": round(peak, 1),
                        "floor_rss_mb": round(floor, 1),
                        "growth_over_floor_mb": round(peak - floor, 1),
                        "exit_code": code,
                    }
                ),
                flush=True,
            )
            items.unlink()


if __name__ == "__main__":
    main()
