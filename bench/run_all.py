"""Every benchmark of the project in one command, written up in BENCHMARKS.md.

Runs each script under bench/ (see bench/specs.py) as a subprocess of this Python, --repeat
times where repeating makes sense, then writes the medians, their ranges, pass/fail against the
targets and the machine to --out. A benchmark that fails is reported in the file with its
stderr tail and the others still run; the exit code is 1 if any failed (--strict: or missed a
target). The raw runs are kept in bench/results/last-run.json (gitignored).

    python bench/run_all.py [--repeat 3] [--quick] [--only ack ingest search retrieval records]
                            [--out BENCHMARKS.md] [--eval-dir ../shared/eval] [--strict]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import machine_info  # noqa: E402
from bench.report import render_markdown, summarize, tail  # noqa: E402
from bench.specs import BENCHMARKS, Benchmark  # noqa: E402


def run_once(spec: Benchmark, args: list[str], timeout: float) -> dict[str, Any]:
    """One subprocess run of a script; a timeout counts as a failed run, not a crash of the runner."""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_VERBOSITY": "error",
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
    }
    started = time.perf_counter()
    # A session of its own, so a timeout also ends the script's children (bot_ack's cold
    # processes, ingest's Bedrock stand-in), not only the script.
    with subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
            returncode = process.returncode
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, _ = process.communicate()
            returncode, stderr = -1, f"timed out after {timeout:g} s"
        except BaseException:  # Ctrl-C: the new session does not get the terminal's SIGINT
            os.killpg(process.pid, signal.SIGKILL)
            raise
    return {
        "returncode": returncode,
        "stdout": stdout,
        "stderr": stderr,
        "seconds": time.perf_counter() - started,
        "args": args,
    }


def git_commit() -> str | None:
    """Short HEAD, marked when the work tree has changes (read-only git calls)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{head} + uncommitted changes" if dirty else head


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=None, help="runs per benchmark (default 3, --quick 1)")
    parser.add_argument("--quick", action="store_true", help="fewer iterations and sizes: a smoke run")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), help="run only these benchmarks")
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--eval-dir", type=Path, default=None, help="BEIR sets (default ../shared/eval)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per script run")
    parser.add_argument("--strict", action="store_true", help="also exit non-zero when a target is missed")
    args = parser.parse_args(argv)
    repeat = args.repeat or (1 if args.quick else 3)
    if repeat < 1:
        parser.error("--repeat must be at least 1")
    names = [name for name in BENCHMARKS if not args.only or name in args.only]

    started_at = dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    runs: dict[str, list[dict[str, Any]]] = {}
    for name in names:
        spec = BENCHMARKS[name]
        command = spec.command(args.quick)
        if name == "retrieval" and args.eval_dir:
            command += ["--eval-dir", str(args.eval_dir.resolve())]
        times = repeat if spec.repeat else 1
        runs[name] = []
        for i in range(times):
            print(f"[{name} {i + 1}/{times}] python {shlex.join(command)}", file=sys.stderr, flush=True)
            run = run_once(spec, command, args.timeout)
            runs[name].append(run)
            verdict = (
                "ok" if run["returncode"] == 0 else f"FAILED ({run['returncode']})\n{tail(run['stderr'], 5)}"
            )
            print(f"    {run['seconds']:.1f} s, {verdict}", file=sys.stderr, flush=True)

    summary = summarize(runs)
    argv_shown = ["python", "bench/run_all.py", *(sys.argv[1:] if argv is None else argv)]
    info = {
        "date": started_at.strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join(argv_shown),
        "minutes": (time.perf_counter() - started) / 60,
        "repeat": repeat,
        "quick": args.quick,
        "commit": git_commit(),
    }
    machine = machine_info()
    args.out.write_text(render_markdown(summary, machine, info), encoding="utf-8")
    raw = ROOT / "bench" / "results" / "last-run.json"
    raw.parent.mkdir(parents=True, exist_ok=True)
    raw.write_text(json.dumps({"run": info, "machine": machine, "runs": runs}, indent=1), encoding="utf-8")

    for bench in summary["benchmarks"]:
        print(f"{bench['title']}: {bench['status']}", file=sys.stderr)
    print(f"wrote {args.out} in {info['minutes']:.1f} min", file=sys.stderr)
    return 1 if summary["failed"] or (args.strict and summary["targets_missed"]) else 0


if __name__ == "__main__":
    sys.exit(main())
