"""The shipped Athena queries, run on a small log whose right answers are worked out by hand.

Athena speaks Trino SQL. The test transpiles each rendered query with sqlglot and runs it in
DuckDB over tables with the Glue columns (infra/kotae_infra/logs.py). One clause has no DuckDB
spelling, Trino's UNNEST of a map into (key, value) rows, so the harness rewrites that clause only.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import duckdb
import pytest
import sqlglot

from kotae.errors import ConfigError, InputError
from kotae.models import Answer, Usage
from kotae.ops.answer_log import answer_record, feedback_record
from kotae.ops.athena import load_prices, queries, render

TODAY = date.today()
OLD = TODAY - timedelta(days=400)


def log_answer(
    answer_id, user, channel, question, found, version, model, tokens, timings, day=TODAY, route=None, cost=None
):
    answer = Answer(
        question=question, text="t", found=found, prompt_task="answer", prompt_version=version,
        model_id=model, usage=Usage(input_tokens=tokens[0], output_tokens=tokens[1]), timings_ms=timings,
        route=route, route_reason=route and f"why {route}", cost_usd=cost,
    )  # fmt: skip
    now = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=len(answer_id))
    return answer_record(
        answer, answer_id=answer_id, outcome="answered" if found else "not_found",
        team_id="T1", channel_id=channel, user_id=user, now=now,
    )  # fmt: skip


ANSWERS = [
    log_answer("a1", "U1", "C1", "VPN?", True, "v1", "apac.anthropic.claude-3-5-haiku-20241022-v1:0",
               (1000, 100), {"retrieve": 10.0, "generate": 900.0}),
    log_answer("a2", "U2", "C2", "  Cafeteria? ", False, "v1", "extractive", (0, 0), {"retrieve": 20.0}),
    log_answer("a3", "U1", "C1", "Expenses?", True, "v2", "us.anthropic.claude-sonnet-4-20250514-v1:0",
               (2000, 200), {"retrieve": 30.0, "generate": 1500.0}),
    log_answer("a5", "U3", "C3", "cafeteria?", False, "v2", "some-unpriced-model", (10, 10), {"retrieve": 5.0}),
    log_answer("a9", "U9", "C9", "ancient?", False, "v1", "extractive", (0, 0), {"retrieve": 1.0}, day=OLD),
]  # fmt: skip
ROUTED = [  # a second database: answers routed between a light and a strong model
    # Routed answers: the light Haiku 4.5 twice, the strong Sonnet 4.5 once, through jp. profiles
    log_answer("r1", "U4", "C4", "Wi-Fi?", True, "v1", "jp.anthropic.claude-haiku-4-5-20251001-v1:0",
               (300, 40), {"retrieve": 5.0}, route="light", cost=0.0005),
    log_answer("r2", "U4", "C4", "Printer?", True, "v1", "jp.anthropic.claude-haiku-4-5-20251001-v1:0",
               (500, 60), {"retrieve": 5.0}, route="light", cost=0.0008),
    log_answer("r3", "U4", "C4", "Incidents?", True, "v1", "jp.anthropic.claude-sonnet-4-5-20250929-v1:0",
               (3000, 200), {"retrieve": 5.0}, route="strong", cost=0.012),
    log_answer("r4", "U4", "C5", "Oncall?", True, "v1", "jp.anthropic.claude-haiku-4-5-20251001-v1:0",
               (1000, 100), {"retrieve": 5.0}, route="pinned", cost=0.0015),
]  # fmt: skip
CLICK = datetime.combine(TODAY, datetime.min.time(), tzinfo=UTC)
FEEDBACK = [
    feedback_record("a1", "up", user_id="U1", now=CLICK + timedelta(minutes=1)),
    feedback_record("a1", "down", user_id="U1", now=CLICK + timedelta(minutes=2)),  # changed their mind
    feedback_record("a1", "up", user_id="U2", now=CLICK + timedelta(minutes=3)),
    feedback_record("a3", "up", user_id="U1", now=CLICK + timedelta(minutes=4)),
]


@pytest.fixture(scope="module")
def athena():
    con = duckdb.connect()
    for schema, answers in (("kotae_logs", ANSWERS), ("routed_logs", ROUTED)):
        _answers_table(con, schema, answers)
    con.execute(
        'CREATE TABLE kotae_logs.feedback (answer_id VARCHAR, "time" VARCHAR, user_id VARCHAR, feedback VARCHAR,'
        " dt VARCHAR)"
    )
    for record in FEEDBACK:
        con.execute(
            "INSERT INTO kotae_logs.feedback VALUES (?, ?, ?, ?, ?)",
            [record["answer_id"], record["time"], record["user_id"], record["feedback"], record["time"][:10]],
        )

    def run(name: str, database: str = "kotae_logs") -> list[dict]:
        sql = sqlglot.transpile(render(name, database=database), read="trino", write="duckdb")[0]
        sql = sql.replace(
            "CROSS JOIN UNNEST(latency_ms) AS t(stage, ms)",
            "CROSS JOIN (SELECT unnest(map_keys(latency_ms)) AS stage, unnest(map_values(latency_ms)) AS ms) AS t",
        )
        cursor = con.execute(sql)
        columns = [c[0] for c in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    return run


def _answers_table(con, schema: str, answers: list[dict]) -> None:
    """The answers table with the Glue columns, holding the records exactly as the bot writes them."""
    con.execute(f"CREATE SCHEMA {schema}")
    con.execute(
        f'CREATE TABLE {schema}.answers (answer_id VARCHAR, "time" VARCHAR, team_id VARCHAR, channel_id VARCHAR,'
        " user_id VARCHAR, question VARCHAR, found BOOLEAN, outcome VARCHAR,"
        ' retrieved STRUCT("key" VARCHAR, chunk_id VARCHAR, score DOUBLE, relevance DOUBLE)[], cited VARCHAR[],'
        " prompt_task VARCHAR, prompt_version VARCHAR, model_id VARCHAR, input_tokens INTEGER,"
        " output_tokens INTEGER, latency_ms MAP(VARCHAR, DOUBLE), total_ms DOUBLE, records VARCHAR,"
        " route VARCHAR, route_reason VARCHAR, cost_usd DOUBLE, dt VARCHAR)"
    )
    for r in answers:  # one per S3 object
        con.execute(
            f"INSERT INTO {schema}.answers VALUES"
            " (?, ?, ?, ?, ?, ?, ?, ?, [], ?, ?, ?, ?, ?, ?, MAP(?::VARCHAR[], ?::DOUBLE[]), ?, ?, ?, ?, ?, ?)",
            [
                r["answer_id"], r["time"], r["team_id"], r["channel_id"], r["user_id"], r["question"],
                r["found"], r["outcome"], r["cited"], r["prompt_task"], r["prompt_version"], r["model_id"],
                r["input_tokens"], r["output_tokens"], list(r["latency_ms"]), list(r["latency_ms"].values()),
                r["total_ms"], r["records"], r["route"], r["route_reason"], r["cost_usd"], r["time"][:10],
            ],
        )  # fmt: skip


def test_every_query_is_valid_trino_sql() -> None:
    assert set(queries()) == {
        "answers_per_day", "feedback_by_prompt_version", "home_answers", "home_feedback",
        "latency_by_stage", "questions_found_nothing", "token_cost_per_answer",
    }  # fmt: skip
    for name in queries():
        sqlglot.parse_one(render(name), read="trino")


def test_answers_per_day(athena) -> None:
    # 4 answers today (a9 is outside the 30-day window): 2 found, 2 not, by U1-U3 in C1-C3
    assert athena("answers_per_day") == [
        {"dt": TODAY.isoformat(), "answers": 4, "answered": 2, "found_nothing": 2, "people": 3, "channels": 3}
    ]


def test_feedback_by_prompt_version(athena) -> None:
    rows = {r["prompt_version"]: r for r in athena("feedback_by_prompt_version")}
    # v1: a1 rated down by U1 (last click) and up by U2; a2 unrated -> 1 up / 2 rated, 1 of 2 answers rated
    assert (rows["v1"]["answers"], rows["v1"]["up"], rows["v1"]["down"]) == (2, 1, 1)
    assert (rows["v1"]["up_ratio"], rows["v1"]["rated_share"]) == (0.5, 0.5)
    # v2: a3 up; a5 unrated
    assert (rows["v2"]["answers"], rows["v2"]["up"], rows["v2"]["up_ratio"], rows["v2"]["rated_share"]) == (
        2, 1, 1.0, 0.5,
    )  # fmt: skip


def test_questions_found_nothing(athena) -> None:
    [row] = athena("questions_found_nothing")
    # "  Cafeteria? " and "cafeteria?" are one question, asked twice by two people
    assert (row["question"], row["times"], row["people"]) == ("cafeteria?", 2, 2)


def test_latency_by_stage(athena) -> None:
    rows = {r["stage"]: r for r in athena("latency_by_stage")}
    assert {s: r["answers"] for s, r in rows.items()} == {"retrieve": 4, "generate": 2, "total": 4}
    assert 900.0 <= rows["generate"]["p50_ms"] <= 1500.0 and rows["total"]["p95_ms"] >= 910.0


def test_token_cost_per_answer(athena) -> None:
    rows = {r["model"]: r for r in athena("token_cost_per_answer")}
    # (1000 × 0.0008 + 100 × 0.004) / 1000 = 0.0012; the apac. prefix is removed before the lookup
    assert rows["anthropic.claude-3-5-haiku-20241022-v1:0"]["usd"] == 0.0012
    # (2000 × 0.003 + 200 × 0.015) / 1000 = 0.009
    assert rows["anthropic.claude-sonnet-4-20250514-v1:0"]["usd_per_answer"] == 0.009
    assert rows["extractive"]["usd"] == 0.0 and rows["some-unpriced-model"]["usd"] is None
    # answers logged before routing have no route: they are 'none'
    assert {r["route"] for r in rows.values()} == {"none"}


def test_token_cost_splits_by_model_and_route(athena) -> None:
    # GIVEN answers routed light, strong and pinned (one pinned to the light model's profile)
    rows = {(r["model"], r["route"]): r for r in athena("token_cost_per_answer", database="routed_logs")}
    haiku, sonnet = "anthropic.claude-haiku-4-5-20251001-v1:0", "anthropic.claude-sonnet-4-5-20250929-v1:0"
    # THEN each model and route is its own row, the jp. prefix removed before the price lookup
    assert set(rows) == {(haiku, "light"), (sonnet, "strong"), (haiku, "pinned")}
    light = rows[(haiku, "light")]
    # (800 × 0.001 + 100 × 0.005) / 1000 = 0.0013 for two answers, 0.00065 each
    assert (light["answers"], light["input_tokens"], light["usd"], light["usd_per_answer"]) == (2, 800, 0.0013, 0.00065)
    # (3000 × 0.003 + 200 × 0.015) / 1000 = 0.012, as the answer logged it
    assert rows[(sonnet, "strong")]["usd"] == 0.012 and rows[(sonnet, "strong")]["logged_usd"] == 0.012
    assert light["logged_usd"] == 0.0013 and rows[(haiku, "pinned")]["answers"] == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"name": "drop_tables"}, "no Athena query", id="unknown"),
        pytest.param(
            {"name": "answers_per_day", "database": 'x"; DROP'}, "not a Glue database", id="database"
        ),
        pytest.param({"name": "answers_per_day", "days": 0}, "days", id="days"),
    ],
)
def test_render_refuses_bad_arguments(kwargs, message) -> None:
    with pytest.raises(InputError, match=message):
        render(**kwargs)


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("not json", id="not-json"),
        pytest.param('{"m": {"input_per_1k": -1, "output_per_1k": 0}}', id="negative"),
        pytest.param('{"m\'); DROP": {"input_per_1k": 1, "output_per_1k": 1}}', id="quote-in-model"),
        pytest.param("[1, 2]", id="not-an-object"),
    ],
)
def test_a_bad_price_table_is_a_config_error(tmp_path, content) -> None:
    path = tmp_path / "prices.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match="KOTAE_MODEL_PRICES"):
        load_prices(path)


def test_the_cli_prints_a_query_with_configured_prices(run, tmp_path, monkeypatch) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text('{"my.model-v1:0": {"input_per_1k": 0.5, "output_per_1k": 1.5}}')
    monkeypatch.setenv("KOTAE_MODEL_PRICES", str(prices))
    code, out, _ = run("athena", "show", "token_cost_per_answer", "--database", "team_logs", "--days", "7")
    assert code == 0 and "('my.model-v1:0', 0.5, 1.5)" in out and '"team_logs"."answers"' in out
    assert "INTERVAL '7' DAY" in out
    code, out, _ = run("athena", "list")
    assert code == 0 and "latency_by_stage" in out
