"""bench.report, bench.specs, bench.machine and bot_ack's arithmetic: medians, ranges, pass/fail
and BENCHMARKS.md.

Hand-made runs only: no benchmark is run and no timing is asserted.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import bot_ack, ingest_scale
from bench.machine import parse_cpuinfo, parse_meminfo
from bench.report import parse_json_lines, render_machine, render_markdown, summarize
from bench.specs import BENCHMARKS, Benchmark, Figure, Target

ROOT = Path(__file__).resolve().parents[2]

LATENCY = Benchmark(
    name="latency",
    title="Latency",
    script="latency.py",
    about="A made-up benchmark.",
    args=("--n", "5"),
    quick_args=("--n", "1"),
    figures=(
        Figure("p50_ms", "p50 (ms)", 2, Target("<=", 30, "ms")),
        Figure("p95_ms", "p95 (ms)", 2),
    ),
    group_by=("chunks",),
)
QUALITY = Benchmark(
    name="quality",
    title="Quality",
    script="quality.py",
    about="A made-up deterministic benchmark.",
    args=(),
    quick_args=(),
    figures=(Figure("queries", "queries", 0), Figure("ndcg@10", "nDCG@10")),
    repeat=False,
    group_by=("set", "mode"),
    wide=True,
)
SPECS = {"latency": LATENCY, "quality": QUALITY}
MACHINE = {
    "cpu": "Test CPU 9000",
    "logical_cpus": 8,
    "usable_cpus": 2,
    "memory_bytes": 16 * 2**30,
    "memory_limit_bytes": 4 * 2**30,
    "os": "Linux 6.1",
    "python": "3.11.7 (CPython)",
    "packages": {"torch": "2.4.0", "boto3": None},
}
RUN_INFO = {
    "date": "2025-01-02 03:04 UTC",
    "command": "python bench/run_all.py",
    "minutes": 12.34,
    "repeat": 3,
    "quick": False,
    "commit": "abc1234",
}


def run(*records: dict, returncode: int = 0, stderr: str = "", noise: str = "") -> dict:
    """One run as bench/run_all.py records it; `noise` is a non-JSON line printed first."""
    stdout = "\n".join([noise, *(json.dumps({"bench": "fixture", **r}) for r in records)])
    return {"returncode": returncode, "stdout": stdout, "stderr": stderr, "seconds": 2.0, "args": ["x.py"]}


def rows_by(summary: dict, name: str) -> dict[tuple, dict]:
    bench = next(b for b in summary["benchmarks"] if b["name"] == name)
    return {(*row["group"].values(), row["key"]): row for row in bench["rows"]}


def test_parse_json_lines_keeps_objects_and_ignores_other_lines() -> None:
    # GIVEN stdout with a warning, a broken line, an EMF metrics line and two result objects
    text = (
        'Warning: something\n{"bench": "a", "x": 1}\n{broken\n  {"bench": "b"}  \n[1, 2]\n'
        '{"_aws": {"CloudWatchMetrics": []}, "IngestedRecords": [100.0]}\n'
    )
    # WHEN it is parsed
    records = parse_json_lines(text)
    # THEN only the two result objects come back, in order
    assert records == [{"bench": "a", "x": 1}, {"bench": "b"}]


def test_summarize_takes_median_and_range_over_runs_and_compares_median_with_target() -> None:
    # GIVEN three runs of p50 10, 40, 20 ms (median 20, range 10–40) and p95 50, 70, 60 (median 60)
    runs = {
        "latency": [
            run({"chunks": 10000, "p50_ms": 10.0, "p95_ms": 50.0}, noise="loading…"),
            run({"chunks": 10000, "p50_ms": 40.0, "p95_ms": 70.0}),
            run({"chunks": 10000, "p50_ms": 20.0, "p95_ms": 60.0}),
        ]
    }
    # WHEN summarized
    summary = summarize(runs, SPECS)
    rows = rows_by(summary, "latency")
    # THEN the median 20 meets "<= 30" although one run (40) did not; p95 has no target
    p50 = rows[(10000, "p50_ms")]
    assert (p50["median"], p50["min"], p50["max"], p50["n"]) == (20.0, 10.0, 40.0, 3)
    assert (p50["target"], p50["status"]) == ("≤ 30 ms", "pass")
    p95 = rows[(10000, "p95_ms")]
    assert (p95["median"], p95["target"], p95["status"]) == (60.0, None, None)
    assert summary["benchmarks"][0]["status"] == "ok"
    assert summary["benchmarks"][0]["seconds"] == 6.0
    assert not summary["failed"] and not summary["targets_missed"]


def test_summarize_keeps_groups_apart_and_flags_a_missed_target() -> None:
    # GIVEN two runs each printing a line per store size; 100k: p50 31 and 35 -> median 33 > 30
    runs = {
        "latency": [
            run({"chunks": 10000, "p50_ms": 5.0}, {"chunks": 100000, "p50_ms": 31.0}),
            run({"chunks": 10000, "p50_ms": 7.0}, {"chunks": 100000, "p50_ms": 35.0}),
        ]
    }
    # WHEN summarized
    summary = summarize(runs, SPECS)
    rows = rows_by(summary, "latency")
    # THEN each size has its own median (even count: mean of the middle two) and status
    assert (rows[(10000, "p50_ms")]["median"], rows[(10000, "p50_ms")]["status"]) == (6.0, "pass")
    assert (rows[(100000, "p50_ms")]["median"], rows[(100000, "p50_ms")]["status"]) == (33.0, "fail")
    assert summary["benchmarks"][0]["status"] == "target missed"
    assert summary["targets_missed"] and not summary["failed"]


def test_a_failed_run_is_reported_with_its_stderr_tail_and_the_other_runs_still_count() -> None:
    # GIVEN one run that crashed and one that printed p50 12
    stderr = "\n".join(f"line {i}" for i in range(40)) + "\nRuntimeError: boom"
    runs = {"latency": [run(returncode=1, stderr=stderr), run({"chunks": 1, "p50_ms": 12.0})]}
    # WHEN summarized
    summary = summarize(runs, SPECS)
    bench = summary["benchmarks"][0]
    # THEN the benchmark failed, the error keeps the exit code and the end of stderr only
    assert bench["status"] == "failed" and summary["failed"]
    assert bench["errors"][0].startswith("exit code 1:")
    assert "RuntimeError: boom" in bench["errors"][0] and "line 0\n" not in bench["errors"][0]
    # AND the good run's figure is still there, from one run
    assert rows_by(summary, "latency")[(1, "p50_ms")]["n"] == 1


def test_error_and_skipped_lines() -> None:
    # GIVEN a quality run with one good line and one error line, and another that skipped everything
    failing = {
        "quality": [
            run(
                {"set": "faq", "mode": "lexical", "queries": 100, "ndcg@10": 0.8},
                {"set": "faq", "mode": "dense", "error": "no model"},
            )
        ]
    }
    skipped = {"quality": [run({"skipped": "no BEIR sets under /x"})]}
    # WHEN each is summarized
    failed_bench = summarize(failing, SPECS)["benchmarks"][0]
    skipped_bench = summarize(skipped, SPECS)["benchmarks"][0]
    # THEN the error line fails the benchmark, naming set and mode; the good line is kept
    assert failed_bench["status"] == "failed"
    assert failed_bench["errors"] == ["faq dense: no model"]
    assert [row["key"] for row in failed_bench["rows"]] == ["queries", "ndcg@10"]
    # AND a skipped benchmark is neither failed nor ok
    assert skipped_bench["status"] == "skipped"
    assert skipped_bench["skipped"] == ["no BEIR sets under /x"] and skipped_bench["rows"] == []


def test_a_run_without_any_figure_is_a_failure() -> None:
    # GIVEN a run that exited 0 but printed nothing usable
    runs = {"latency": [run(noise="hello")]}
    # WHEN summarized
    bench = summarize(runs, SPECS)["benchmarks"][0]
    # THEN it counts as failed, so a silently broken script is noticed
    assert bench["status"] == "failed" and bench["errors"] == ["no figures in the script's output"]


def test_render_markdown_has_machine_tables_and_failures() -> None:
    # GIVEN a latency benchmark over three runs (p50 10, 40, 20; one 100k run at 50 -> fail)
    # AND a quality benchmark with one row and one error
    runs = {
        "latency": [
            run({"chunks": 10000, "p50_ms": 10.0}, {"chunks": 100000, "p50_ms": 50.0}),
            run({"chunks": 10000, "p50_ms": 40.0}),
            run({"chunks": 10000, "p50_ms": 20.0}),
        ],
        "quality": [
            run(
                {"set": "jsquad", "mode": "hybrid", "queries": 4442, "ndcg@10": 0.9431},
                {"set": "jsquad", "mode": "dense", "error": "Traceback\nOSError: model missing"},
            )
        ],
    }
    # WHEN rendered
    text = render_markdown(summarize(runs, SPECS), MACHINE, RUN_INFO)
    # THEN it says when, how, at which commit, and how long it took
    assert text.startswith("# Benchmarks\n")
    assert "`python bench/run_all.py` on 2025-01-02 03:04 UTC at commit `abc1234`" in text
    assert "took 12.3 min" in text and "ran 3 times" in text
    # AND the machine
    assert "| CPU | Test CPU 9000 |" in text
    assert "| Cores | 8 logical, 2 usable by the benchmarks |" in text
    assert "| Memory | 16.0 GiB (cgroup limit 4.0 GiB) |" in text
    assert "torch 2.4.0, boto3 not installed" in text
    # AND a long table: median, range, target, status; a single run has no range
    assert "| 10,000 | p50 (ms) | 20.00 | 10.00–40.00 | ≤ 30 ms | pass |" in text
    assert "| 100,000 | p50 (ms) | 50.00 | — (1 run) | ≤ 30 ms | **FAIL** |" in text
    # AND a wide table per set × mode, and the failure with its stderr in a code block
    assert "| set | mode | queries | nDCG@10 |" in text
    assert "| jsquad | hybrid | 4,442 | 0.943 |" in text
    assert "**Failed:**\n\n```\njsquad dense: Traceback\nOSError: model missing\n```" in text
    # AND the summary lists each benchmark's status
    assert "| Latency | **target missed** | 3 | 6 |" in text
    assert "| Quality | **failed** | 1 | 2 |" in text


def test_render_machine_omits_usable_cores_and_limit_when_they_add_nothing() -> None:
    # GIVEN a machine where every core is usable and no cgroup memory limit applies
    machine = {**MACHINE, "usable_cpus": 8, "memory_limit_bytes": None}
    # WHEN rendered
    lines = render_machine(machine)
    # THEN cores and memory are plain
    assert "| Cores | 8 logical |" in lines and "| Memory | 16.0 GiB |" in lines


@pytest.mark.parametrize(
    ("target", "value", "met", "shown"),
    [
        (Target("<=", 1.0, "s"), 1.0, True, "≤ 1 s"),
        (Target("<=", 1.0, "s"), 1.001, False, "≤ 1 s"),
        (Target(">=", 0.5), 0.49, False, "≥ 0.5"),
        (Target("==", 0), 0, True, "= 0"),
        (Target("==", 0), 1, False, "= 0"),
    ],
)
def test_target(target: Target, value: float, met: bool, shown: str) -> None:
    # GIVEN a target WHEN a value is compared THEN the bound is inclusive and shown with its unit
    assert target.met(value) is met
    assert str(target) == shown


def test_unknown_target_operator_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown target operator"):
        Target("<", 1)


def test_parse_cpuinfo_and_meminfo() -> None:
    # GIVEN made-up /proc/cpuinfo texts (x86 with two processors, ARM) and /proc/meminfo
    x86 = (
        "processor\t: 0\nmodel name\t: Test CPU @ 2.0GHz\n\nprocessor\t: 1\nmodel name\t: Test CPU @ 2.0GHz\n"
    )
    arm = "processor\t: 0\nBogoMIPS\t: 50.00\n\nHardware\t: Test SoC\n"
    meminfo = "MemTotal:       16384 kB\nMemFree:         1024 kB\n"
    # WHEN parsed THEN model and processor count, and MemTotal in bytes, come out
    assert parse_cpuinfo(x86) == {"model": "Test CPU @ 2.0GHz", "processors": 2}
    assert parse_cpuinfo(arm) == {"model": "Test SoC", "processors": 1}
    assert parse_cpuinfo("") == {"model": None, "processors": None}
    assert parse_meminfo(meminfo) == 16384 * 1024
    assert parse_meminfo("") is None


def test_project_specs_point_at_existing_scripts_with_the_issue_targets() -> None:
    # GIVEN the real benchmark list WHEN read THEN every script exists, quick or not
    assert set(BENCHMARKS) == {"ack", "ingest", "ingest_scale", "search", "retrieval", "records", "batch-reindex"}
    for spec in BENCHMARKS.values():
        assert (ROOT / spec.command()[0]).is_file()
        assert spec.command(quick=True)[0] == spec.command()[0]
    # AND the targets are issue 6's: cold ack 1 s, warm ack 50 ms, 100-record batch 1 s, p50 30 ms
    targets = {f.key: str(f.target) for spec in BENCHMARKS.values() for f in spec.figures if f.target}
    assert targets["cold_process_start_to_200_s_median"] == "≤ 1 s"
    assert targets["warm_ack_ms_median"] == "≤ 50 ms"
    assert targets["insert_batch_s_median"] == "≤ 1 s"
    assert targets["p50_ms"] == "≤ 30 ms"
    # AND the architecture issue's: the bot's cold start at most 1.15 times a bare Bolt app's
    assert targets["cold_ratio_to_bare"] == "≤ 1.15 ×"
    # AND issue 12's: count and list queries on a 200k-record embedded store, p50 50 ms
    assert targets["count_p50_ms"] == targets["list_p50_ms"] == "≤ 50 ms"
    assert BENCHMARKS["records"].command() == ["bench/record_queries.py", "--records", "200000", "--runs", "25"]
    # AND retrieval quality, being deterministic, is not repeated
    assert not BENCHMARKS["retrieval"].repeat
    # AND issue 14 sets no target for ingest at scale: figures only, 1,000-record batches
    assert not any(f.target for f in BENCHMARKS["ingest_scale"].figures)
    assert BENCHMARKS["ingest_scale"].command()[:3] == ["bench/ingest_scale.py", "--records", "1000"]


def ack_start(process_start_s: float, warm_ms: tuple[float, ...] = ()) -> dict:
    """One cold start as bench/bot_ack.py records it; first import taken as 50 ms less."""
    return {
        "process_start_s": process_start_s,
        "first_import_s": process_start_s - 0.05,
        "warm_s": [ms / 1000 for ms in warm_ms],
    }


def test_bot_ack_ratio_is_the_bots_cold_median_over_bare_bolts() -> None:
    # GIVEN the bot's starts 0.60, 0.70, 0.62 s (median 0.62) and bare Bolt's 0.50, 0.55, 0.60
    # (median 0.55); pairwise ratios would give 1.2 and means 1.164, so only the right one passes
    starts = {
        "kotae": [ack_start(0.60, (2.0, 3.0, 4.0)), ack_start(0.70), ack_start(0.62)],
        "bare": [ack_start(0.50, (1.0, 1.5, 2.0)), ack_start(0.55), ack_start(0.60)],
    }
    # WHEN the script's JSON line is made
    line = bot_ack.summarize(starts)
    # THEN the ratio is 0.62 / 0.55 = 1.127, and both medians are reported beside it
    assert line["cold_ratio_to_bare"] == 1.127
    assert line["cold_process_start_to_200_s_median"] == 0.62
    assert line["bare_cold_process_start_to_200_s_median"] == 0.55
    assert line["cold_first_import_to_200_s_median"] == 0.57
    assert line["bare_cold_first_import_to_200_s_median"] == 0.5
    # AND each app's warm acks are its own
    assert (line["warm_ack_ms_median"], line["bare_warm_ack_ms_median"]) == (3.0, 1.5)
    assert line["runs"] == 3


def test_bot_ack_prints_every_figure_the_ack_spec_reports() -> None:
    # GIVEN one start of each app with warm acks WHEN summarized
    line = bot_ack.summarize({"kotae": [ack_start(0.6, (2.0,))], "bare": [ack_start(0.5, (1.0,))]})
    # THEN no row of the ack table would be missing for want of a key
    assert {figure.key for figure in BENCHMARKS["ack"].figures} <= set(line)


@pytest.mark.parametrize("pairs", [1, 2, 7])
def test_bot_ack_interleaves_the_two_apps_each_first_in_turn(pairs: int) -> None:
    # WHEN the start order for some pairs is made
    order = bot_ack.start_order(pairs)
    # THEN each pair holds one start of each app, bare first in every other pair
    assert len(order) == 2 * pairs and order.count("bare") == order.count("kotae") == pairs
    chunks = [order[i : i + 2] for i in range(0, len(order), 2)]
    assert all(sorted(chunk) == ["bare", "kotae"] for chunk in chunks)
    assert [chunk[0] for chunk in chunks] == ["bare", "kotae"] * (pairs // 2) + ["bare"] * (pairs % 2)
    # AND each app is a module with a Lambda handler
    assert set(bot_ack.APPS) == {"bare", "kotae"}


def ack_run(ratio: float) -> dict:
    """A bot_ack run whose cold ratio to bare Bolt is `ratio` (bare Bolt's cold start 0.5 s)."""
    return run(
        {
            "cold_process_start_to_200_s_median": round(0.5 * ratio, 3),
            "cold_first_import_to_200_s_median": 0.4,
            "bare_cold_process_start_to_200_s_median": 0.5,
            "bare_cold_first_import_to_200_s_median": 0.35,
            "cold_ratio_to_bare": ratio,
            "warm_ack_ms_median": 1.8,
            "warm_ack_ms_p95": 2.1,
            "bare_warm_ack_ms_median": 1.5,
        }
    )


def test_ack_table_shows_bare_bolt_and_the_ratio_against_its_target() -> None:
    # GIVEN three ack runs with cold ratios 1.30, 1.10, 1.12 (median 1.12)
    runs = {"ack": [ack_run(1.30), ack_run(1.10), ack_run(1.12)]}
    # WHEN summarized and rendered with the project's specs
    summary = summarize(runs)
    text = render_markdown(summary, MACHINE, RUN_INFO)
    # THEN the ratio row is the median over runs, with its range, the 1.15 target and a pass
    assert "| Cold ratio: bot / bare Bolt (×) | 1.120 | 1.100–1.300 | ≤ 1.15 × | pass |" in text
    # AND bare Bolt's figures sit beside the bot's
    assert "| Bare Bolt cold: process start → 200 (s) | 0.500 | 0.500–0.500 | — | — |" in text
    assert "| Bare Bolt cold: first import → 200 (s) | 0.350 |" in text
    assert "| Bare Bolt warm ack, median (ms) | 1.50 |" in text
    assert "| Cold: process start → 200 (s) | 0.560 | 0.550–0.650 | ≤ 1 s | pass |" in text
    assert summary["benchmarks"][0]["status"] == "ok"


def test_a_cold_ratio_over_1_15_misses_the_target() -> None:
    # GIVEN runs with ratios 1.16, 1.20, 1.10 (median 1.16) although cold stays under 1 s
    summary = summarize({"ack": [ack_run(1.16), ack_run(1.20), ack_run(1.10)]})
    # WHEN rendered
    text = render_markdown(summary, MACHINE, RUN_INFO)
    # THEN the ratio row fails and so does the benchmark's status
    assert "| Cold ratio: bot / bare Bolt (×) | 1.160 | 1.100–1.200 | ≤ 1.15 × | **FAIL** |" in text
    assert summary["benchmarks"][0]["status"] == "target missed" and summary["targets_missed"]


def test_ingest_scale_line_counts_calls_with_and_without_retries() -> None:
    # GIVEN 3 batches of 1,000 records taking 10, 20 and 12 s (embedding 8, 18, 9 s of it, one
    # record lost), and 3,300 calls of which 300 throttled
    batches = [ingest_scale.Batch(10.0, 8.0, 0), ingest_scale.Batch(20.0, 18.0, 1), ingest_scale.Batch(12.0, 9.0, 0)]
    line = ingest_scale.summarize(16, 1000, batches, {"throttled": 300, "answered": 3000})
    # THEN records/s is over the median batch (12 s), p95 of 3 batches is the slowest
    assert line["records_per_s_median"] == 83.3
    assert (line["batch_s_p50"], line["batch_s_p95"], line["embed_phase_s_p50"]) == (12.0, 20.0, 9.0)
    assert line["failed_records"] == 1
    # AND calls per record count the throttled attempts once and leave them out once
    assert (line["calls_per_record"], line["calls_per_record_without_retries"]) == (1.1, 1.0)
    assert line["throttled_share"] == 0.091 and line["concurrency"] == 16
    # AND no row of the ingest_scale table would be missing for want of a key
    assert {figure.key for figure in BENCHMARKS["ingest_scale"].figures} <= set(line)


def test_ingest_scale_line_without_calls_has_no_throttled_share() -> None:
    # GIVEN batches that made no call at all (nothing to embed) WHEN summarized THEN 0, no division
    line = ingest_scale.summarize(8, 10, [ingest_scale.Batch(1.0, 0.0, 0)], {"throttled": 0, "answered": 0})
    assert line["throttled_share"] == 0.0 and line["calls_per_record"] == 0.0


@pytest.mark.parametrize(
    ("values", "share", "expected"),
    [
        pytest.param([3.0, 1.0, 2.0], 0.5, 2.0, id="median-of-three"),
        pytest.param([3.0, 1.0, 2.0], 0.95, 3.0, id="p95-of-three-is-the-slowest"),
        pytest.param([float(v) for v in range(1, 21)], 0.95, 19.0, id="p95-of-twenty"),
        pytest.param([5.0], 0.5, 5.0, id="one-value"),
    ],
)
def test_ingest_scale_nearest_rank(values: list[float], share: float, expected: float) -> None:
    assert ingest_scale.nearest_rank(values, share) == expected


@pytest.mark.parametrize(
    ("throttle", "throttled"),
    [pytest.param(0.0, 0, id="never"), pytest.param(0.999999, 20, id="always")],
)
def test_ingest_scale_fault_rule_throttles_its_share_and_counts(throttle: float, throttled: int) -> None:
    # GIVEN the stand-in's rule with no latency WHEN called 20 times
    import random

    rule = ingest_scale.SlowAndThrottled(0.0, 0.0, throttle, random.Random(1))
    faults = [rule("invoke", {}) for _ in range(20)]
    # THEN the throttled calls get Bedrock's 429 ThrottlingException and are counted apart
    assert sum(f is not None for f in faults) == throttled
    assert all(f.status == 429 and f.code == "ThrottlingException" for f in faults if f is not None)
    assert rule.counts() == {"throttled": throttled, "answered": 20 - throttled}


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["--records", "0"], id="no-records"),
        pytest.param(["--throttle", "1"], id="all-throttled"),
        pytest.param(["--latency", "0.05", "0.02"], id="latency-reversed"),
        pytest.param(["--retry-mode", "legacy"], id="unknown-retry-mode"),
    ],
)
def test_ingest_scale_refuses_bad_arguments(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        ingest_scale.parse_args(argv)
