"""Benchmark scripts' JSON lines -> medians, ranges, pass/fail -> BENCHMARKS.md.

Pure functions: bench/run_all.py does the running and the clock (bench/machine.py the machine), so the arithmetic and the layout here can be
unit tested with hand-made runs (tests/unit/test_bench_report.py).

A run is a mapping {"returncode": int, "stdout": str, "stderr": str, "seconds": float,
"args": [str, ...]} — what run_all records for one subprocess of one script.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from bench.specs import BENCHMARKS, Benchmark

TAIL_LINES = 15


def parse_json_lines(text: str) -> list[dict[str, Any]]:
    """The result objects a script printed, one a line, each with a "bench" key; other lines
    (warnings, JSON logs, the handlers' EMF metric lines) are ignored."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and "bench" in record:
                out.append(record)
    return out


def tail(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _figure_rows(spec: Benchmark, records: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Median, min and max of each figure over the runs, per group, in first-seen group order."""
    values: dict[tuple, dict[str, list[float]]] = {}
    for run in records:
        for record in run:
            group = tuple(record.get(key) for key in spec.group_by)
            per_figure = values.setdefault(group, {})
            for figure in spec.figures:
                if isinstance(record.get(figure.key), int | float):
                    per_figure.setdefault(figure.key, []).append(float(record[figure.key]))
    rows = []
    for group, per_figure in values.items():
        for figure in spec.figures:
            got = per_figure.get(figure.key)
            if not got:
                continue
            median = statistics.median(got)
            rows.append(
                {
                    "group": dict(zip(spec.group_by, group, strict=True)),
                    "key": figure.key,
                    "label": figure.label,
                    "digits": figure.digits,
                    "median": median,
                    "min": min(got),
                    "max": max(got),
                    "n": len(got),
                    "target": str(figure.target) if figure.target else None,
                    "status": None
                    if figure.target is None
                    else ("pass" if figure.target.met(median) else "fail"),
                }
            )
    return rows


def summarize(
    runs: Mapping[str, Sequence[Mapping[str, Any]]], specs: Mapping[str, Benchmark] = BENCHMARKS
) -> dict[str, Any]:
    """Each benchmark's figures over its runs, its status and its errors.

    Status: "failed" when a run exited non-zero or printed an error line (its figures from the
    other runs are still kept), "skipped" when it printed only a skipped line, "target missed"
    when a median misses its target, else "ok".
    """
    benchmarks = []
    for name, bench_runs in runs.items():
        spec = specs[name]
        ok_records, errors, skipped = [], [], []
        for run in bench_runs:
            if run["returncode"] != 0:
                errors.append(f"exit code {run['returncode']}:\n{tail(run.get('stderr', ''))}")
                continue
            records = parse_json_lines(run.get("stdout", ""))
            for record in records:
                if "error" in record:
                    where = " ".join(str(record[k]) for k in spec.group_by if k in record)
                    errors.append(f"{where}: {tail(str(record['error']))}".strip(": "))
                if "skipped" in record:
                    skipped.append(str(record["skipped"]))
            ok_records.append([r for r in records if "error" not in r and "skipped" not in r])
        rows = _figure_rows(spec, ok_records)
        if not rows and not errors and not skipped and bench_runs:
            errors.append("no figures in the script's output")
        if errors:
            status = "failed"
        elif skipped and not rows:
            status = "skipped"
        elif any(row["status"] == "fail" for row in rows):
            status = "target missed"
        else:
            status = "ok"
        benchmarks.append(
            {
                "name": name,
                "title": spec.title,
                "about": spec.about,
                "command": " ".join(["python", *bench_runs[0].get("args", spec.command())])
                if bench_runs
                else "",
                "runs": len(bench_runs),
                "seconds": sum(float(run.get("seconds", 0.0)) for run in bench_runs),
                "status": status,
                "errors": errors,
                "skipped": sorted(set(skipped)),
                "wide": spec.wide,
                "group_by": list(spec.group_by),
                "figures": [f.label for f in spec.figures],
                "rows": rows,
            }
        )
    return {
        "benchmarks": benchmarks,
        "failed": any(b["status"] == "failed" for b in benchmarks),
        "targets_missed": any(b["status"] == "target missed" for b in benchmarks),
    }


def fmt(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _group_cell(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _range(row: Mapping[str, Any]) -> str:
    if row["n"] < 2:
        return "— (1 run)"
    return f"{fmt(row['min'], row['digits'])}–{fmt(row['max'], row['digits'])}"


def _long_table(bench: Mapping[str, Any]) -> list[str]:
    groups = bench["group_by"]
    head = [*groups, "figure", "median", f"range over {bench['runs']} runs", "target", "status"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in bench["rows"]:
        cells = [_group_cell(row["group"][g]) for g in groups]
        status = {"pass": "pass", "fail": "**FAIL**", None: "—"}[row["status"]]
        cells += [row["label"], fmt(row["median"], row["digits"]), _range(row), row["target"] or "—", status]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _wide_table(bench: Mapping[str, Any]) -> list[str]:
    groups = bench["group_by"]
    head = [*groups, *bench["figures"]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    by_group: dict[tuple, dict[str, Mapping[str, Any]]] = {}
    for row in bench["rows"]:
        by_group.setdefault(tuple(row["group"][g] for g in groups), {})[row["label"]] = row
    for group, cells_by_label in by_group.items():
        cells = [_group_cell(g) for g in group]
        for label in bench["figures"]:
            row = cells_by_label.get(label)
            cells.append(fmt(row["median"], row["digits"]) if row else "—")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def _gib(size: int | None) -> str:
    return "unknown" if size is None else f"{size / 2**30:.1f} GiB"


def render_machine(machine: Mapping[str, Any]) -> list[str]:
    cpus = f"{machine.get('logical_cpus')} logical"
    if machine.get("usable_cpus") not in (None, machine.get("logical_cpus")):
        cpus += f", {machine['usable_cpus']} usable by the benchmarks"
    memory = _gib(machine.get("memory_bytes"))
    if machine.get("memory_limit_bytes"):
        memory += f" (cgroup limit {_gib(machine['memory_limit_bytes'])})"
    packages = ", ".join(
        f"{name} {version or 'not installed'}" for name, version in machine.get("packages", {}).items()
    )
    return [
        "| | |",
        "|---|---|",
        f"| CPU | {machine.get('cpu', 'unknown')} |",
        f"| Cores | {cpus} |",
        f"| Memory | {memory} |",
        f"| OS | {machine.get('os', 'unknown')} |",
        f"| Python | {machine.get('python', 'unknown')} |",
        f"| Packages | {packages} |",
    ]


def render_markdown(summary: Mapping[str, Any], machine: Mapping[str, Any], run: Mapping[str, Any]) -> str:
    """BENCHMARKS.md. `run` says when and how: date (a string, UTC), command, minutes, repeat,
    quick, commit (or None)."""
    commit = f" at commit `{run['commit']}`" if run.get("commit") else ""
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `{run['command']}` on {run['date']}{commit}; the whole run took "
        f"{run['minutes']:.1f} min. Each benchmark script ran {_times(run['repeat'])} "
        "(retrieval quality once: it is deterministic); tables give the median over those runs, "
        "their range, and the target the median is compared with.",
        "",
    ]
    if run.get("quick"):
        lines += [
            "> **Quick run** (`--quick`): fewer iterations and sizes; not comparable with a full run.",
            "",
        ]
    lines += [
        "## How to reproduce",
        "",
        "```sh",
        "python bench/run_all.py            # everything; --quick for a smoke run, --only search ack to pick",
        "```",
        "",
        "It runs each script under bench/ as a subprocess (with HF_HUB_OFFLINE=1), writes this file, "
        "and exits non-zero if a benchmark failed (`--strict`: also if a target was missed).",
        "",
        "## Machine",
        "",
        *render_machine(machine),
        "",
        "## Summary",
        "",
        "| benchmark | status | runs | wall time (s) |",
        "|---|---|---|---|",
    ]
    for bench in summary["benchmarks"]:
        status = bench["status"] if bench["status"] in ("ok", "skipped") else f"**{bench['status']}**"
        lines.append(f"| {bench['title']} | {status} | {bench['runs']} | {bench['seconds']:.0f} |")
    for bench in summary["benchmarks"]:
        lines += ["", f"## {bench['title']}", "", bench["about"], "", f"`{bench['command']}`"]
        if bench["rows"]:
            lines += ["", *(_wide_table(bench) if bench["wide"] else _long_table(bench))]
        for reason in bench["skipped"]:
            lines += ["", f"Skipped: {reason}"]
        for error in bench["errors"]:
            lines += ["", "**Failed:**", "", "```", error.replace("```", "'''"), "```"]
    return "\n".join(lines).rstrip() + "\n"
