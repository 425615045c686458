"""Write an answer evaluation as files: summary.json (figures and every case), report.md, and
report.html (self-contained, charts as inline SVG, so it opens offline and can be attached)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2

from kotae.errors import InputError
from kotae.evaluation.answers import EvalRun
from kotae.evaluation.costs import route_rows
from kotae.evaluation.records import records_line

# (key, label, scale): rates are 0–1; judge grades are 1–5 and drawn against 5.
RATE_METRICS = [
    ("retrieval_hit_rate", "Retrieval hit rate", 1.0),
    ("retrieval_mrr", "Retrieval MRR", 1.0),
    ("answer_rate", "Answered (answerable)", 1.0),
    ("expected_cited_rate", "Expected source cited", 1.0),
    ("citation_validity", "Citations valid", 1.0),
    ("correct_refusal_rate", "Refused (unanswerable)", 1.0),
    ("false_refusal_rate", "Refused (answerable)", 1.0),
    ("accuracy", "Right outcome", 1.0),
    ("faithfulness", "Judge: faithfulness (of 5)", 5.0),
    ("correctness", "Judge: correctness (of 5)", 5.0),
]
OTHER_METRICS = [
    ("questions", "Questions"),
    ("errors", "Errors"),
    ("judged", "Judged answers"),
    ("judge_errors", "Judge errors"),
    ("latency_ms_p50", "Latency p50 (ms)"),
    ("latency_ms_p95", "Latency p95 (ms)"),
    ("input_tokens_mean", "Input tokens (mean)"),
    ("output_tokens_mean", "Output tokens (mean)"),
]
# Shown when the set has record questions (kotae.evaluation.records).
RECORD_RATE_METRICS = [("record_exact_rate", "Records: exact answers", 1.0)]
RECORD_OTHER_METRICS = [
    ("record_questions", "Record questions"),
    ("record_exact", "Records: exact"),
    ("record_without_result", "Records: no record result"),
]
MAX_MISSES = 100
COLORS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948"]


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return str(value)


def usd(value: float | None) -> str:
    """A cost in dollars with the digits a fraction of a cent needs: 0.000546, 0.0123, 1.25."""
    if value is None:
        return "–"
    return f"{value:.6f}".rstrip("0").rstrip(".") if value < 1 else f"{value:.2f}"


def cost_markdown(run: EvalRun) -> list[str]:
    """Cost per answer per version, then quality and cost per route (kotae.evaluation.costs)."""
    summary = run.summary()["versions"]
    lines = [
        "",
        "## Cost and routes",
        "",
        "| version | cost per answer (USD) | total (USD) | unpriced answers |",
    ]
    lines.append("|---|---|---|---|")
    for v in run.versions:
        figures = summary[v]
        lines.append(
            f"| {v} | {usd(figures['cost_usd_per_answer'])} | {usd(figures['cost_usd_total'])} "
            f"| {figures['unpriced_answers']} |"
        )
    lines += ["", "| route | version | questions | answered | right outcome | cost per answer (USD) |"]
    lines.append("|---|---|---|---|---|---|")
    for row in route_rows(summary, run.versions):
        lines.append(
            f"| {row['route']} | {row['version']} | {row['questions']} | {_fmt(row['answer_rate'])} "
            f"| {_fmt(row['accuracy'])} | {usd(row['cost_usd_per_answer'])} |"
        )
    return lines


def has_records(run: EvalRun) -> bool:
    return any(r.record_question for results in run.results.values() for r in results)


def metrics(run: EvalRun) -> tuple[list[tuple[str, str, float]], list[tuple[str, str]]]:
    """(rate figures, other figures) to show: the record ones only when there are record questions."""
    if not has_records(run):
        return RATE_METRICS, OTHER_METRICS
    return [*RATE_METRICS, *RECORD_RATE_METRICS], [*OTHER_METRICS, *RECORD_OTHER_METRICS]


def record_lines(run: EvalRun) -> list[str]:
    """``v1 records: exact 62/64 (96.9%)`` per version, when there are record questions."""
    summary = run.summary()["versions"]
    return [f"{v} {line}" for v in run.versions if (line := records_line(summary[v]))]


def record_misses(run: EvalRun) -> list[dict[str, Any]]:
    """Record questions not answered exactly, per version, with the reasons."""
    return [
        {"id": r.id, "version": version, "why": "; ".join(r.record_problems or ["–"])}
        for version in run.versions
        for r in run.results.get(version, [])
        if r.record_question and not r.correct
    ]


def differing_cases(run: EvalRun) -> list[dict[str, Any]]:
    """Questions whose outcome (right or wrong) differs between versions: where to read first."""
    by_id: dict[str, dict[str, Any]] = {}
    for version in run.versions:
        for result in run.results.get(version, []):
            row = by_id.setdefault(
                result.id, {"id": result.id, "answerable": result.answerable, "outcomes": {}}
            )
            row["outcomes"][version] = ("right" if result.correct else "wrong") + (
                "" if result.found else " (refused)"
            )
    return [row for row in by_id.values() if len({o.split()[0] for o in row["outcomes"].values()}) > 1]


def render_markdown(run: EvalRun) -> str:
    summary = run.summary()["versions"]
    versions = run.versions
    header = "| figure | " + " | ".join(versions) + (" | change |" if len(versions) > 1 else " |")
    lines = [
        "# Answer evaluation",
        "",
        f"Dataset: `{run.dataset}` · settings: "
        + ", ".join(f"{k}={v}" for k, v in sorted(run.settings.items())),
        "",
        header,
        "|---" * (len(versions) + 1 + (len(versions) > 1)) + "|",
    ]
    rates, others = metrics(run)
    for key, label, *_ in [*rates, *others]:
        values = [summary[v][key] for v in versions]
        row = f"| {label} | " + " | ".join(_fmt(v) for v in values)
        if len(versions) > 1:
            first, last = values[0], values[-1]
            change = "–" if first is None or last is None else f"{last - first:+.3f}".rstrip("0").rstrip(".")
            row += f" | {change}"
        lines.append(row + " |")
    diffs = differing_cases(run)
    lines += ["", f"## Questions whose outcome differs ({len(diffs)})", ""]
    if diffs:
        lines.append("| id | answerable | " + " | ".join(versions) + " |")
        lines.append("|---" * (len(versions) + 2) + "|")
        for row in diffs:
            lines.append(
                f"| {row['id']} | {'yes' if row['answerable'] else 'no'} | "
                + " | ".join(row["outcomes"].get(v, "–") for v in versions)
                + " |"
            )
    else:
        lines.append("None: every question had the same outcome under every version.")
    lines += _record_markdown(run)
    lines += cost_markdown(run)
    lines += [
        "",
        "Definitions: see `kotae/evaluation/answers.py`, `kotae/evaluation/records.py` and the README "
        "section 'Evaluating answers'.",
    ]
    return "\n".join(lines) + "\n"


def _record_markdown(run: EvalRun) -> list[str]:
    """The records line per version and the record questions not answered exactly."""
    if not has_records(run):
        return []
    misses = record_misses(run)
    lines = [
        "",
        "Records: " + " · ".join(record_lines(run)),
        "",
        f"## Record questions not answered exactly ({len(misses)})",
        "",
    ]
    if not misses:
        return [*lines, "None: every record question got the exact figures under every version."]
    lines += ["| id | version | why |", "|---|---|---|"]
    lines += [f"| {m['id']} | {m['version']} | {m['why'].replace('|', '/')} |" for m in misses[:MAX_MISSES]]
    if len(misses) > MAX_MISSES:
        lines.append(f"\n… and {len(misses) - MAX_MISSES} more (all in summary.json, `record_problems`).")
    return lines


def _bars(run: EvalRun) -> list[dict[str, Any]]:
    summary = run.summary()["versions"]
    groups = []
    for key, label, scale in metrics(run)[0]:
        bars = []
        for index, version in enumerate(run.versions):
            value = summary[version][key]
            bars.append(
                {
                    "version": version,
                    "value": _fmt(value),
                    "width": 0 if value is None else round(360 * value / scale, 1),
                    "color": COLORS[index % len(COLORS)],
                }
            )
        groups.append({"label": label, "bars": bars})
    return groups


def render_html(run: EvalRun) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "reports")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    summary = run.summary()["versions"]
    latency = [
        {
            "version": v,
            "p50": summary[v]["latency_ms_p50"] or 0,
            "p95": summary[v]["latency_ms_p95"] or 0,
            "color": COLORS[i % len(COLORS)],
        }
        for i, v in enumerate(run.versions)
    ]
    longest = max([row["p95"] for row in latency] + [1])
    for row in latency:
        row["w50"], row["w95"] = round(360 * row["p50"] / longest, 1), round(360 * row["p95"] / longest, 1)
    rates, others = metrics(run)
    return env.get_template("eval.html.j2").render(
        run=run,
        summary=summary,
        groups=_bars(run),
        latency=latency,
        others=others,
        rates=rates,
        diffs=differing_cases(run),
        has_records=has_records(run),
        record_lines=record_lines(run),
        record_misses=record_misses(run)[:MAX_MISSES],
        routes=list(dict.fromkeys(row["route"] for row in route_rows(summary, run.versions))),
        fmt=_fmt,
        usd=usd,
    )


def prepare(directory: Path) -> Path:
    """Create the report directory, so an unusable one fails before a long run, not after."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot write the reports to {directory}: {exc.strerror or exc}") from exc
    return directory


def write_reports(run: EvalRun, directory: Path) -> dict[str, Path]:
    paths = {
        "json": directory / "summary.json",
        "markdown": directory / "report.md",
        "html": directory / "report.html",
    }
    payload = {**run.summary(), "cases": run.cases()}
    prepare(directory)
    try:
        paths["json"].write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        paths["markdown"].write_text(render_markdown(run), encoding="utf-8")
        paths["html"].write_text(render_html(run), encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write the reports to {directory}: {exc.strerror or exc}") from exc
    return paths
