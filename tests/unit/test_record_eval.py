"""The record-question evaluation: the seeded table, its questions and their expected results
(checked against an independent recount), and the exact-answer scoring of record results."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from kotae.errors import InputError, ProviderThrottled
from kotae.evaluation.answers import (
    EvalCase,
    Grade,
    load_cases,
    load_datasets,
    run_eval,
    score_case,
    summarize,
)
from kotae.evaluation.records import NO_RESULT, RecordExpectation, check_records, records_line
from kotae.evaluation.records_data import MIN_EXECUTIONS, OPS, RESTRICTED, TASKS, VERSIONS, generate
from kotae.evaluation.records_questions import Asked, build_questions, expected, newest_first
from kotae.evaluation.records_set import read_base, write_set
from kotae.evaluation.report import render_html, render_markdown, write_reports
from kotae.models import Answer
from kotae.records.query import RecordQuery, RecordResult

EXECUTION_ID = re.compile(r"ex-\d{8}-\d{2}")


@pytest.fixture(scope="module")
def table():
    return generate(12)  # the default size: 30,000 records over 40 executions


@pytest.fixture(scope="module")
def questions(table):
    return build_questions(table, seed=12)


# --- the table -------------------------------------------------------------------------------


def test_a_seed_always_gives_the_same_table_and_another_seed_another() -> None:
    first, again = generate(5, records=800, executions=10), generate(5, records=800, executions=10)
    assert first.records == again.records and first.executions == again.executions
    assert generate(6, records=800, executions=10).records != first.records
    assert build_questions(first, seed=5) == build_questions(again, seed=5)


def test_statuses_come_at_realistic_rates_that_differ_by_prompt_version(table) -> None:
    records = table.records
    assert len(records) == 30_000 and len(table.executions) == 40
    rates = {s: n / len(records) for s, n in Counter(r["status"] for r in records).items()}
    assert 0.90 <= rates["succeeded"] <= 0.96
    assert 0.03 <= rates["needs_review"] <= 0.07
    assert 0.01 <= rates["failed"] <= 0.04
    failed_by_version = {
        v: sum(1 for r in records if r["prompt_version"] == v and r["status"] == "failed")
        / sum(1 for r in records if r["prompt_version"] == v)
        for v in VERSIONS
    }
    assert failed_by_version["v3"] < failed_by_version["v1"]  # a comparison worth asking for


def test_the_table_looks_like_a_pipelines_output(table) -> None:
    records = table.records
    assert len({r["item_key"] for r in records}) == len({r["record_id"] for r in records}) == len(records)
    for run in table.executions:
        rows = [r for r in records if r["execution_id"] == run.execution_id]
        assert EXECUTION_ID.fullmatch(run.execution_id) and len(rows) == run.size
        assert {r["task_name"] for r in rows} == {run.task_name} and {r["prompt_version"] for r in rows} == {
            run.prompt_version
        }
    assert {r["task_name"] for r in records} == set(TASKS) and {r["prompt_version"] for r in records} == set(
        VERSIONS
    )
    failed = [r for r in records if r["status"] == "failed"]
    assert all(r["normalized_output"] is None and r["error"] for r in failed)
    assert all("error" not in r and r["normalized_output"] for r in records if r["status"] != "failed")
    errors = Counter(r["error"].split(":")[0] for r in failed)
    assert set(errors) == {"ThrottlingException", "ReadTimeoutError", "SchemaValidationError"}
    stamps = [datetime.fromisoformat(r["updated_at"]) for r in records]
    assert all(s.utcoffset() == timedelta(hours=9) for s in stamps)
    assert max(stamps) - min(stamps) > timedelta(weeks=3)
    scopes = Counter(tuple(r["scopes"]) for r in records)
    assert set(scopes) == {(OPS,), (RESTRICTED,)} and scopes[(RESTRICTED,)] < 0.1 * len(records)
    assert any(run.restricted for run in table.executions) and any(run.incident for run in table.executions)


@pytest.mark.parametrize(
    ("records", "executions", "message"),
    [
        pytest.param(5_000, MIN_EXECUTIONS - 1, "at least 8 executions", id="too-few-executions"),
        pytest.param(100, 10, "need at least 400 records", id="too-few-records"),
    ],
)
def test_sizes_too_small_for_a_question_set_are_refused(records: int, executions: int, message: str) -> None:
    with pytest.raises(InputError, match=message):
        generate(1, records=records, executions=executions)


# --- the questions and their expected results ---------------------------------------------------


def test_there_are_enough_questions_in_both_languages_with_bad_input_among_them(questions) -> None:
    assert len(questions) >= 60 and len({q["id"] for q in questions}) == len(questions)
    languages = Counter(q["lang"] for q in questions)
    assert abs(languages["ja"] - languages["en"]) <= 2
    assert all(re.search(r"[ぁ-んァ-ン一-龥]", q["question"]) for q in questions if q["lang"] == "ja")
    unknown = [q for q in questions if q["expected_records"]["unknown"]]
    unfiltered = [q for q in questions if q["expected_records"]["unfiltered"]]
    assert len(unknown) >= 4 and len(unfiltered) >= 4
    assert {q["note"].split(".")[0] for q in questions} >= {"count", "list", "latest", "compare", "lookup"}
    for q in questions:
        RecordExpectation.model_validate(q["expected_records"])  # every line is a valid expectation


def _recount(table, question) -> dict:
    """The expected figures again, the other way round: counters over the table, by scope."""
    seen = [r for r in table.records if set(r["scopes"]) & set(question["scopes"])]
    text = question["question"]
    runs = EXECUTION_ID.findall(text)
    task = next((t for t in TASKS if t in text), None)
    versions = re.findall(r"(?<![A-Za-z0-9])v\d(?![0-9])", text)
    status = {"failed": "failed", "needs_review": "needs_review", "succeeded": "succeeded"}.get(
        question["note"].split(".")[-1]
    )
    pick = Counter()
    for r in seen:
        if (runs and r["execution_id"] not in runs) or (task and r["task_name"] != task):
            continue
        if versions and r["prompt_version"] not in versions:
            continue
        pick[r["status"]] += 1
    return {"total": pick[status] if status else sum(pick.values()), "by_status": pick}


def test_expected_totals_match_an_independent_recount(table, questions) -> None:
    checked = 0
    for q in questions:
        want = q["expected_records"]
        if want["unknown"] or q["note"] == "lookup":
            continue
        recount = _recount(table, q)
        assert want["total"] == recount["total"], q
        if q["note"] == "compare.versions":
            cells = Counter({(v, s): n for v, inner in want["groups"].items() for s, n in inner.items()})
            assert sum(cells.values()) == want["total"]
            assert {
                s: sum(n for (_, st), n in cells.items() if st == s) for s in recount["by_status"]
            } == dict(recount["by_status"])
        checked += 1
    assert checked >= 45


def test_bad_input_names_ids_that_no_visible_record_has(table, questions) -> None:
    for q in questions:
        unknown = q["expected_records"]["unknown"]
        if not unknown:
            continue
        ((facet, (value,)),) = unknown.items()
        assert value in q["question"]
        assert not [r for r in table.records if r[facet] == value and set(r["scopes"]) & set(q["scopes"])]
    hidden = {run.execution_id for run in table.executions if run.restricted}
    asked_hidden = [q for q in questions if set(EXECUTION_ID.findall(q["question"])) & hidden]
    assert {tuple(q["scopes"]) for q in asked_hidden} == {(OPS,), (OPS, RESTRICTED)}
    assert all(q["expected_records"]["total"] for q in asked_hidden if RESTRICTED in q["scopes"])


def test_lists_expect_the_newest_first_cut_at_the_limit(table, questions) -> None:
    lists = [
        q
        for q in questions
        if q["note"].startswith(("list.", "latest.")) and not q["expected_records"]["unknown"]
    ]
    assert any(q["expected_records"]["total"] > 10 for q in lists) and any(
        q["expected_records"]["total"] <= 10 for q in lists
    )
    by_key = {r["item_key"]: r for r in table.records}
    for q in lists:
        keys = q["expected_records"]["keys"]
        assert len(keys) == min(10, q["expected_records"]["total"])
        stamps = [datetime.fromisoformat(by_key[k]["updated_at"]) for k in keys]
        assert stamps == sorted(stamps, reverse=True)


def test_newest_first_breaks_ties_by_key_and_puts_untimed_records_last() -> None:
    records = [
        {"item_key": "b", "updated_at": "2026-11-01T10:00:00+09:00"},
        {"item_key": "c"},
        {"item_key": "a", "updated_at": "2026-11-01T10:00:00+09:00"},
        {"item_key": "d", "updated_at": "2026-11-01T02:00:01+00:00"},  # 11:00:01 in JST: the newest
    ]
    assert [r["item_key"] for r in newest_first(records)] == ["d", "a", "b", "c"]


def test_expected_groups_by_one_or_two_facets_and_scopes_apply() -> None:
    records = [
        {"item_key": "k1", "status": "failed", "prompt_version": "v1", "scopes": [OPS]},
        {"item_key": "k2", "status": "succeeded", "prompt_version": "v1", "scopes": [OPS]},
        {"item_key": "k3", "status": "failed", "prompt_version": "v2", "scopes": [RESTRICTED]},
    ]
    by_status = expected(records, [OPS], Asked("group", group_by=("status",)))
    assert by_status["groups"] == {"failed": 1, "succeeded": 1} and by_status["total"] == 2
    both = expected(records, [OPS, RESTRICTED], Asked("group", group_by=("prompt_version", "status")))
    assert both["groups"] == {"v1": {"failed": 1, "succeeded": 1}, "v2": {"failed": 1}}
    missing = expected(records, [OPS], Asked("count", unknown={"execution_id": ("ex-1",)}))
    assert missing == {
        "total": None,
        "keys": None,
        "groups": None,
        "unknown": {"execution_id": ["ex-1"]},
        "unfiltered": None,
    }


# --- scoring -------------------------------------------------------------------------------------


def result(
    operation="count", total=0, keys=(), groups=None, unknown=None, unfiltered=False, limit=10, where=None
):
    query = RecordQuery(
        operation=operation,
        where=where or {},
        group_by=["prompt_version", "status"] if operation == "group" else [],
        limit=limit,
    )
    return RecordResult(
        query=query,
        total=total,
        keys=list(keys),
        groups=groups or {},
        unknown=unknown or {},
        unfiltered=unfiltered,
    )


KEYS = [f"k{i:02d}" for i in range(12)]
GROUPS = {"v1": {"failed": 2, "succeeded": 5}, "v2": {"failed": 1}}


@pytest.mark.parametrize(
    ("want", "got", "problem"),
    [
        pytest.param({"total": 6}, result(total=6), None, id="count"),
        pytest.param({"total": 6}, result(total=5), "total 5, expected 6", id="count-wrong"),
        pytest.param({"total": 6}, None, NO_RESULT, id="no-record-result"),
        pytest.param(
            {"total": 12, "keys": KEYS[:10]}, result("list", 12, KEYS[:10]), None, id="list-cut-at-limit"
        ),
        pytest.param(
            {"total": 12, "keys": KEYS[:10]}, result("list", 12, KEYS[:5], limit=5), None, id="smaller-limit"
        ),
        pytest.param(
            {"total": 12, "keys": KEYS[:5]},
            result("list", 12, KEYS[:10]),
            None,
            id="set-holds-fewer-than-listed",
        ),
        pytest.param(
            {"total": 3, "keys": KEYS[:3]},
            result("list", 3, KEYS[:2]),
            "2 keys listed, expected 3",
            id="short",
        ),
        pytest.param(
            {"total": 3, "keys": KEYS[:3]},
            result("list", 3, [KEYS[1], KEYS[0], KEYS[2]]),
            "key 1 is k01",
            id="order",
        ),
        pytest.param(
            {"keys": KEYS[:1]}, result("latest", 40, KEYS[:1], limit=1), None, id="latest-without-total"
        ),
        pytest.param(
            {"keys": KEYS[:1]}, result("latest", 40, KEYS[:2]), "2 keys listed, expected 1", id="latest-more"
        ),
        pytest.param({"groups": GROUPS}, result("group", groups=GROUPS), None, id="groups"),
        pytest.param(
            {"groups": GROUPS},
            result("group", groups={"failed": {"v1": 2, "v2": 1}, "succeeded": {"v1": 5, "v2": 0}}),
            None,
            id="groups-other-nesting-and-zeros",
        ),
        pytest.param(
            {"groups": GROUPS}, result("group", groups={"v1": {"failed": 2}}), "groups ", id="groups-wrong"
        ),
        pytest.param(
            {"groups": {"failed": 2}}, result("group", groups={"failed": 2, "x": 0}), None, id="one-facet"
        ),
        pytest.param(
            {"unknown": {"execution_id": ["ex-20261199-01"]}},
            result(unknown={"execution_id": ["ex-20261119-01"]}, where={"execution_id": ["ex-20261199-01"]}),
            None,
            id="unknown-closest-not-compared",
        ),
        pytest.param(
            {"unknown": {"execution_id": ["ex-20261199-01"]}},
            result(unknown={"execution_id": ["ex-20261119-01"]}),
            None,
            id="unknown-not-in-query",
        ),
        pytest.param(
            {"unknown": {"execution_id": ["ex-20261199-01"]}},
            result(total=0),
            "unknown facets none, expected execution_id",
            id="missing-run-counted-as-zero",
        ),
        pytest.param(
            {"unknown": {"execution_id": ["ex-20261199-01"]}},
            result(unknown={"execution_id": ["ex-1"]}, where={"execution_id": ["ex-20261118-01"]}),
            "the query names execution_id",
            id="unknown-other-value",
        ),
        pytest.param(
            {"total": 4},
            result(total=4, unknown={"record_id": ["r-1"]}),
            "reported unknown values for record_id",
            id="existing-called-missing",
        ),
        pytest.param(
            {"total": 9, "unfiltered": True}, result(total=9, unfiltered=True), None, id="unfiltered"
        ),
        pytest.param(
            {"total": 9, "unfiltered": True},
            result(total=9),
            "unfiltered false, expected true",
            id="not-said",
        ),
    ],
)
def test_record_results_are_exact_only_when_every_expected_field_matches(want, got, problem) -> None:
    check = check_records(RecordExpectation.model_validate(want), got)
    assert check.exact is (problem is None)
    if problem:
        assert any(problem in p for p in check.problems), check.problems


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param({}, id="nothing-to-compare"),
        pytest.param({"total": None, "keys": None}, id="all-null"),
        pytest.param({"total": -1}, id="negative-total"),
        pytest.param({"total": 1, "rows": []}, id="unknown-field"),
    ],
)
def test_an_expectation_must_compare_something_valid(raw) -> None:
    with pytest.raises(ValueError):
        RecordExpectation.model_validate(raw)


def test_records_line_reads_like_the_report() -> None:
    assert records_line({"record_questions": 64, "record_exact": 62, "record_exact_rate": 0.9688}) == (
        "records: exact 62/64 (96.9%)"
    )
    assert records_line({"record_questions": 0}) is None


# --- record questions in an evaluation run ---------------------------------------------------------


def record_answer(records: RecordResult | None, *, cited: tuple[str, ...] = ()) -> Answer:
    return Answer(
        question="q", text="…", records=records, prompt_task="answer", prompt_version="v1", model_id="m",
        citations=[{"id": f"S{i}", "key": key, "title": key, "score": 1.0} for i, key in enumerate(cited, 1)],
        timings_ms={"retrieve": 4.0},
    )  # fmt: skip


def test_a_record_line_needs_no_expected_keys_but_a_valid_expectation(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "r1", "question": "q", "expected_records": {"total": 3}}\n')
    (case,) = load_cases(path)
    assert case.expected_records == RecordExpectation(total=3) and case.expected_keys == []
    path.write_text('{"id": "r1", "question": "q", "expected_records": {}}\n')
    with pytest.raises(InputError, match="line 1: .*expected_records needs total"):
        load_cases(path)


def test_several_sets_load_in_order_and_an_id_may_appear_once(tmp_path: Path) -> None:
    faq, records = tmp_path / "faq.jsonl", tmp_path / "records.jsonl"
    faq.write_text('{"id": "q1", "question": "q", "expected_keys": ["a"]}\n')
    records.write_text('{"id": "r1", "question": "q", "expected_records": {"total": 1}}\n')
    assert [c.id for c in load_datasets([faq, records])] == ["q1", "r1"]
    with pytest.raises(InputError, match=r"question id 'q1' is in both .*faq.jsonl and .*faq.jsonl"):
        load_datasets([faq, faq])


FAQ = EvalCase(id="f1", question="vpn?", expected_keys=["faq-1"])
FAQ_ANSWER = Answer(
    question="vpn?", text="Use the VPN [S1].", prompt_task="answer", prompt_version="v1", model_id="m",
    citations=[{"id": "S1", "key": "faq-1", "title": "VPN", "score": 0.9}], timings_ms={"generate": 8.0},
)  # fmt: skip
RECORD_CASES = [
    EvalCase(id="r1", question="ex-1 failed?", expected_records=RecordExpectation(total=6)),
    EvalCase(id="r2", question="ex-2 failed?", expected_records=RecordExpectation(total=2)),
    EvalCase(id="r3", question="latest?", expected_records=RecordExpectation(keys=["k1"])),
    EvalCase(id="r4", question="ex-3?", expected_records=RecordExpectation(total=1)),
]


def mixed_run(judge=None):
    answers = {
        "f1": FAQ_ANSWER,
        "r1": record_answer(result(total=6)),  # exact
        "r2": record_answer(result(total=3)),  # wrong total
        "r3": record_answer(None),  # answered from retrieval: a miss
    }

    def ask(case: EvalCase, version: str) -> Answer:
        if case.id == "r4":
            raise ProviderThrottled("Bedrock throttled")
        return answers[case.id]

    return run_eval([FAQ, *RECORD_CASES], ["v1"], ask, judge=judge, dataset="mixed")


def test_record_questions_count_beside_the_faq_figures_and_leave_them_unchanged() -> None:
    judged = []
    run = mixed_run(judge=lambda case, answer: judged.append(case.id) or Grade(5, 5))
    figures = run.summary()["versions"]["v1"]
    faq_only = summarize(run.results["v1"][:1])
    for name in (
        "answerable",
        "unanswerable",
        "retrieval_hit_rate",
        "answer_rate",
        "accuracy",
        "faithfulness",
    ):
        assert figures[name] == faq_only[name], name
    assert judged == ["f1"]  # record questions are scored exactly, not judged
    assert figures["questions"] == 5 and figures["errors"] == 1
    assert (figures["record_questions"], figures["record_exact"], figures["record_exact_rate"]) == (
        4,
        1,
        0.25,
    )
    assert figures["record_without_result"] == 1
    cases = {c["id"]: c for c in run.cases()}
    assert (
        cases["r1"]["correct"]
        and cases["r1"]["records"]["total"] == 6
        and cases["r1"]["record_problems"] == []
    )
    assert cases["r2"]["record_problems"] == ["total 3, expected 2"] and not cases["r2"]["correct"]
    assert cases["r3"]["record_problems"] == [NO_RESULT] and cases["r3"]["records"] is None
    assert cases["r4"]["record_problems"][0].startswith("the question failed: ProviderThrottled")
    assert cases["f1"]["expected_records"] is None and cases["f1"]["record_problems"] is None


def test_records_a_record_query_listed_count_as_retrieved_for_faq_questions() -> None:
    # GIVEN an FAQ-style question about a record that the record path answered (no search hits)
    case = EvalCase(id="q", question="what did r-3 become?", expected_keys=["k2"])
    scored = score_case(case, record_answer(result("list", 3, ["k1", "k2", "k3"]), cited=("k1", "k2", "k3")))
    # THEN the listed records are its retrieval: a hit at rank 2, and a right outcome
    assert scored.retrieved == ["k1", "k2", "k3"] and scored.hit_rank == 2 and scored.correct


def test_reports_show_the_records_line_and_why_each_miss_missed(tmp_path: Path) -> None:
    run = mixed_run()
    markdown = render_markdown(run)
    assert "| Records: exact answers | 0.25 |" in markdown and "| Record questions | 4 |" in markdown
    assert "Records: v1 records: exact 1/4 (25.0%)" in markdown
    assert "## Record questions not answered exactly (3)" in markdown
    assert "| r2 | v1 | total 3, expected 2 |" in markdown and f"| r3 | v1 | {NO_RESULT} |" in markdown
    page = render_html(run)
    HTMLParser().feed(page)
    assert (
        "v1 records: exact 1/4 (25.0%)" in page
        and "<td>r2</td>" in page
        and "<title>v1: 0.25</title>" in page
    )
    saved = json.loads(write_reports(run, tmp_path / "out")["json"].read_text())
    assert saved["versions"]["v1"]["record_exact_rate"] == 0.25 and saved["versions"]["v1"]["accuracy"] == 1.0


def test_a_long_list_of_misses_is_cut_in_the_report_and_kept_whole_in_the_json(monkeypatch) -> None:
    from kotae.evaluation import report

    monkeypatch.setattr(report, "MAX_MISSES", 1)
    run = mixed_run()
    markdown = render_markdown(run)
    assert "| r2 | v1 |" in markdown and "| r3 | v1 |" not in markdown and "… and 2 more" in markdown
    assert render_html(run).count("<td>v1</td>") == 1
    assert len(report.record_misses(run)) == 3


def test_reports_without_record_questions_show_no_record_figures() -> None:
    run = run_eval([FAQ], ["v1"], lambda case, version: FAQ_ANSWER)
    assert "Records" not in render_markdown(run) and "Record questions" not in render_html(run)
    assert run.summary()["versions"]["v1"]["record_exact_rate"] is None


# --- the set on disk and the script ---------------------------------------------------------------


def test_write_set_writes_both_files_and_counts_base_records(tmp_path: Path) -> None:
    base = tmp_path / "knowledge.jsonl"
    base.write_text(
        '{"item_key": "faq-1", "kind": "faq", "question": "q", "answer": "a"}\n\n'
        '{"item_key": "old-1", "kind": "record", "record_id": "r-9", "execution_id": "ex-20261001-01", '
        '"task_name": "normalize_address", "status": "failed", "scopes": ["ops"]}\n'
    )
    summary = write_set(
        tmp_path / "set", seed=3, records=800, executions=10, start=date(2026, 11, 5), base=[base]
    )
    assert summary["records"] == 800 and summary["base_records"] == 1 and summary["questions"] >= 60
    questions = [json.loads(line) for line in (tmp_path / "set" / "questions.jsonl").read_text().splitlines()]
    records = (tmp_path / "set" / "records.jsonl").read_text().splitlines()
    assert len(records) == 800 and "old-1" not in "".join(records)
    overall = next(q for q in questions if q["note"] == "unscoped.failed" and q["scopes"] == [OPS])
    generated = sum(1 for line in records if '"status": "failed"' in line and '"scopes": ["ops"]' in line)
    assert overall["expected_records"]["total"] == generated + 1  # the base record counts too
    assert read_base([base]) == [json.loads(base.read_text().splitlines()[2])]


def test_write_set_refuses_bad_base_knowledge_and_unwritable_places(tmp_path: Path) -> None:
    clash = tmp_path / "clash.jsonl"
    clash.write_text('{"item_key": "record-ex-20261105-01-0001", "kind": "record", "scopes": ["ops"]}\n')
    with pytest.raises(InputError, match="already in the base knowledge"):
        write_set(tmp_path / "a", seed=3, records=800, executions=10, start=date(2026, 11, 5), base=[clash])
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n")
    with pytest.raises(InputError, match="broken.jsonl line 1: not JSON"):
        read_base([broken])
    with pytest.raises(InputError, match="cannot read"):
        read_base([tmp_path / "missing.jsonl"])
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(InputError, match="cannot write the record set"):
        write_set(blocker / "set", seed=3, records=800, executions=10, start=date(2026, 11, 5))


def test_the_generator_script_prints_a_summary_and_fails_cleanly(tmp_path: Path, capsys) -> None:
    from bench.records import generate as script

    assert script.main(["--records", "800", "--executions", "10", "--out", str(tmp_path / "s")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["records"] == 800 and (tmp_path / "s" / "questions.jsonl").is_file()
    assert script.main(["--executions", "3", "--out", str(tmp_path / "t")]) == 2
    assert "at least 8 executions" in capsys.readouterr().err
