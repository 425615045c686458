"""Where the App Home figures come from (kotae.ops.home_source): the local JSONL log, and Athena
through botocore's Stubber (started, polled, paged, cached; failed, timed out, refused). The
two Home queries also run in DuckDB (as tests/unit/test_athena.py runs the others) to show they
give the figures the raw records give."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import duckdb
import pytest
import sqlglot
from botocore.stub import ANY, Stubber

from kotae.ops.answer_log import LocalSink, feedback_record
from kotae.ops.athena import render
from kotae.ops.home_figures import home_figures
from kotae.ops.home_source import Athena, AthenaHomeSource, LocalHomeSource, source_for
from kotae.ops.log_reader import LocalLog
from kotae.settings import load_settings
from tests.unit.test_athena import _answers_table, log_answer

NOW = datetime.now(UTC)
ANSWER_COLUMNS = ["answer_id", "time", "user_id", "outcome", "prompt_task", "prompt_version", "question"]
FEEDBACK_COLUMNS = ["answer_id", "user_id", "time", "feedback", "reason", "comment"]
T1, T2 = (NOW - timedelta(days=1)).isoformat(), (NOW - timedelta(days=2)).isoformat()


def test_the_local_log_gives_the_figures_and_says_what_it_could_not_read(tmp_path: Path) -> None:
    # GIVEN two answers and a 👎 in the local log, an unreadable line, and a feedback file that is
    # not UTF-8
    sink = LocalSink(tmp_path)
    for n, found in ((1, True), (2, False)):
        record = log_answer(f"a{n}", "U1", "C1", "VPN?", found, "v1", "m", (1, 1), {"retrieve": 1.0})
        sink.write("answers", {**record, "time": T1})
    (tmp_path / "answers" / f"dt={T1[:10]}" / "answers.jsonl").open("a").write("not json\n")
    broken = tmp_path / "feedback" / f"dt={NOW.date()}" / "feedback.jsonl"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"\xff\xfe")
    # WHEN the Home figures are read
    figures = LocalHomeSource(LocalLog(tmp_path)).figures(NOW)
    # THEN the answers count, the feedback is named missing, the bad line is counted
    assert (figures.windows[0].asked, figures.windows[0].not_found) == (2, 1)
    assert (figures.missing, figures.unreadable) == (frozenset({"feedback"}), 1)


def results(columns: list[str], rows: list[list[str | None]], *, first: bool = True, token: str = "") -> dict:
    """A get_query_results page as Athena sends it: the column names as the first page's first row."""
    data = [{"Data": [{"VarCharValue": c} for c in columns]}] if first else []
    data += [{"Data": [{"VarCharValue": v} if v is not None else {} for v in row]} for row in rows]
    page = {
        "ResultSet": {
            "Rows": data,
            "ResultSetMetadata": {"ColumnInfo": [{"Name": c, "Type": "varchar"} for c in columns]},
        }
    }
    return {**page, "NextToken": token} if token else page


def state(value: str, reason: str = "") -> dict:
    status = {"State": value, **({"StateChangeReason": reason} if reason else {})}
    return {"QueryExecution": {"QueryExecutionId": "q", "Status": status}}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def athena():
    client = boto3.client("athena", region_name="ap-northeast-1")
    clock = Clock()
    with Stubber(client) as stub:
        yield (
            stub,
            Athena(client, database="kotae_logs", workgroup="kotae", sleep=clock.sleep, clock=clock),
            clock,
        )
        stub.assert_no_pending_responses()


def started(stub: Stubber, execution_id: str) -> None:
    stub.add_response(
        "start_query_execution",
        {"QueryExecutionId": execution_id},
        {
            "QueryString": ANY,
            "QueryExecutionContext": {"Database": "kotae_logs"},
            "WorkGroup": "kotae",
            "ResultReuseConfiguration": {
                "ResultReuseByAgeConfiguration": {"Enabled": True, "MaxAgeInMinutes": 10}
            },
        },
    )


def answered(stub: Stubber) -> None:
    """Both queries succeed: the answers after one poll and over two pages."""
    started(stub, "qa")
    started(stub, "qf")
    stub.add_response("get_query_execution", state("RUNNING"), {"QueryExecutionId": "qa"})
    stub.add_response("get_query_execution", state("SUCCEEDED"), {"QueryExecutionId": "qa"})
    stub.add_response(
        "get_query_results",
        results(ANSWER_COLUMNS, [["a1", T1, "U1", "answered", "answer", "v1", None]], token="next"),
        {"QueryExecutionId": "qa", "MaxResults": 1000},
    )
    stub.add_response(
        "get_query_results",
        results(ANSWER_COLUMNS, [["a2", T2, "U2", "not_found", "answer", "v1", "VPN?"]], first=False),
        {"QueryExecutionId": "qa", "MaxResults": 1000, "NextToken": "next"},
    )
    stub.add_response("get_query_execution", state("SUCCEEDED"), {"QueryExecutionId": "qf"})
    stub.add_response(
        "get_query_results",
        results(FEEDBACK_COLUMNS, [["a1", "U1", T1, "down", "wrong", None]]),
        {"QueryExecutionId": "qf", "MaxResults": 1000},
    )


def test_athena_rows_are_paged_and_cached_for_the_configured_time(athena) -> None:
    stub, runner, clock = athena
    source = AthenaHomeSource(runner, cache_seconds=600, clock=clock)
    # WHEN the Home is opened: both queries run, the answers' rows come in two pages
    answered(stub)
    figures = source.figures(NOW)
    week = figures.windows[0]
    assert (week.asked, week.answered, week.not_found, week.down, figures.missing) == (
        2,
        1,
        1,
        1,
        frozenset(),
    )
    assert [(c.example, c.count) for c in figures.clusters] == [("VPN?", 1)]
    # AND opened again within ten minutes: no query (the Stubber refuses any call not queued)
    clock.now += 599
    assert source.figures(NOW).windows == figures.windows
    # AND after them: the queries run again
    clock.now += 2
    answered(stub)
    assert source.figures(NOW).windows == figures.windows


def test_a_result_as_long_as_the_querys_limit_is_logged(athena, monkeypatch, caplog) -> None:
    stub, runner, clock = athena
    monkeypatch.setattr("kotae.ops.home_source.MAX_ROWS", 2)
    answered(stub)
    AthenaHomeSource(runner, cache_seconds=600, clock=clock).figures(NOW)
    assert [r.getMessage() for r in caplog.records] == ["the App Home read only the latest 2 answers records"]


def test_a_failed_query_is_missing_and_not_cached(athena) -> None:
    stub, runner, clock = athena
    source = AthenaHomeSource(runner, cache_seconds=600, clock=clock)
    # GIVEN the feedback query fails
    started(stub, "qa")
    started(stub, "qf")
    stub.add_response("get_query_execution", state("SUCCEEDED"), {"QueryExecutionId": "qa"})
    stub.add_response(
        "get_query_results", results(ANSWER_COLUMNS, []), {"QueryExecutionId": "qa", "MaxResults": 1000}
    )
    stub.add_response("get_query_execution", state("FAILED", "TABLE_NOT_FOUND"), {"QueryExecutionId": "qf"})
    # THEN the answers' figures are there and the feedback is missing
    assert source.figures(NOW).missing == frozenset({"feedback"})
    # AND the next open queries again
    answered(stub)
    assert source.figures(NOW).missing == frozenset()


def test_a_query_that_runs_too_long_is_stopped_and_missing(athena) -> None:
    stub, runner, clock = athena
    runner.wait_seconds = 3
    started(stub, "qa")
    stub.add_client_error("start_query_execution", "InvalidRequestException", "workgroup is disabled")
    for _ in range(4):  # polls at 0, 0.25, 0.75, 1.75 s; the next pause would end past 3 s
        stub.add_response("get_query_execution", state("RUNNING"), {"QueryExecutionId": "qa"})
    stub.add_client_error("stop_query_execution", "InvalidRequestException", "already done")
    figures = AthenaHomeSource(runner, cache_seconds=600, clock=clock).figures(NOW)
    assert figures.missing == frozenset({"answers", "feedback"}) and clock.now == pytest.approx(1.75)


def test_a_database_name_athena_cannot_take_is_missing_not_an_error(athena) -> None:
    _stub, runner, clock = athena
    runner.database = "Not-A-Glue-Name"
    assert AthenaHomeSource(runner, cache_seconds=600, clock=clock).figures(NOW).missing == {
        "answers",
        "feedback",
    }


def test_the_source_follows_the_settings_once_per_process(tmp_path: Path) -> None:
    local = source_for(load_settings(data_dir=tmp_path))
    assert isinstance(local, LocalHomeSource) and local.reader.root == tmp_path / "logs"
    aws = load_settings(data_dir=tmp_path, answer_log_bucket="kotae-logs", aws_region="ap-northeast-1")
    assert isinstance(source_for(aws), AthenaHomeSource) and source_for(aws) is source_for(aws)
    assert source_for(aws).athena.reuse_minutes == 10


def test_the_home_queries_give_the_figures_of_the_raw_records() -> None:
    # GIVEN records of the last days in tables with the Glue columns (DuckDB stands in for Athena)
    day = timedelta(days=1)
    answers = [
        {**log_answer(f"a{n}", f"U{n}", "C1", q, found, v, "m", (1, 1), {"r": 1.0}), "time": (NOW - ago).isoformat()}
        for n, (q, found, v, ago) in enumerate(
            [("VPN?", True, "v1", day), ("VPNの設定方法は？", False, "v1", 2 * day),
             ("VPN 設定 方法", False, "v2", 9 * day), ("Expenses?", True, "v2", 20 * day)]
        )
    ]  # fmt: skip
    feedback = [
        feedback_record("a0", "down", user_id="U1", reason="wrong", comment="old", now=NOW - day / 2),
        feedback_record("a0", "up", user_id="U2", now=NOW - day / 3),
        feedback_record("a3", "down", user_id="U1", now=NOW - 15 * day),
        feedback_record("a3", "up", user_id="U1", now=NOW - 10 * day),
    ]
    con = duckdb.connect()
    _answers_table(con, "kotae_logs", [{**a, "dt": a["time"][:10]} for a in answers])
    con.execute(
        'CREATE TABLE kotae_logs.feedback (answer_id VARCHAR, "time" VARCHAR, user_id VARCHAR,'
        " feedback VARCHAR, reason VARCHAR, comment VARCHAR, dt VARCHAR)"
    )
    for r in feedback:
        con.execute(
            "INSERT INTO kotae_logs.feedback VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                r["answer_id"],
                r["time"],
                r["user_id"],
                r["feedback"],
                r["reason"],
                r["comment"],
                r["time"][:10],
            ],
        )

    def rows(name: str) -> list[dict]:
        cursor = con.execute(sqlglot.transpile(render(name), read="trino", write="duckdb")[0])
        columns = [c[0] for c in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    # WHEN the figures are computed from the queries' rows
    queried = home_figures(rows("home_answers"), rows("home_feedback"), NOW)
    # THEN they are those of the raw records
    assert queried == home_figures(answers, feedback, NOW)
    assert (queried.windows[1].up, queried.windows[1].down, len(queried.latest_down)) == (2, 1, 1)
