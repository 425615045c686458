"""The deterministic record parser: questions in Japanese and English -> RecordQuery, and every
question that is not about records -> None (FAQ answers must not get worse)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from kotae.records import phrases
from kotae.records.parser import ParsedQuestion, normalise, parse_question, record_signal
from kotae.records.query import RecordQuery
from kotae.records.schema import DEFAULT_SCHEMA, KindSpec
from kotae.records.timephrase import JST, read_time

ROOT = Path(__file__).resolve().parents[2]
SPEC = DEFAULT_SCHEMA.spec("record")
NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # Friday, 12:00 in Japan
UTC_TODAY = datetime(2026, 11, 20, tzinfo=UTC)
JST_TODAY = datetime(2026, 11, 19, 15, tzinfo=UTC)  # 2026-11-20 00:00 JST
DAY = timedelta(days=1)


class FakeLookup:
    """Facet values with their counts (as a store would see them for one asker), and the calls made."""

    def __init__(self, values: dict[str, Counter[str]]) -> None:
        self.values = values
        self.matches: list[list[str]] = []
        self.prefixes: list[tuple[str, str]] = []

    @classmethod
    def of_rows(cls, rows: Sequence[dict[str, str]]) -> FakeLookup:
        values: dict[str, Counter[str]] = {}
        for row in rows:
            for facet, value in row.items():
                values.setdefault(facet, Counter())[value] += 1
        return cls(values)

    def spy(self) -> FakeLookup:
        """The same values, with no calls recorded yet."""
        return FakeLookup(self.values)

    def facet_matches(self, values: Sequence[str]) -> dict[str, list[str]]:
        self.matches.append(list(values))
        found = {v: sorted(f for f, counts in self.values.items() if v in counts) for v in values}
        return {v: facets for v, facets in found.items() if facets}

    def facet_values(self, facet: str, *, prefix: str = "", limit: int = 1000) -> dict[str, int]:
        self.prefixes.append((facet, prefix))
        counts = self.values.get(facet, Counter())
        return dict(sorted((v, n) for v, n in counts.items() if v.startswith(prefix))[:limit])


def _sample_lookup() -> FakeLookup:
    rows = []
    for line in (ROOT / "samples" / "knowledge.jsonl").read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        if item.get("kind") == "record":
            rows.append({f: str(item[f]) for f in SPEC.facets if f in item})
    return FakeLookup.of_rows(rows)


def _big_lookup() -> FakeLookup:
    """14,400 synthetic records over 40 executions, with task names that are also everyday words
    (login, vpn, leave, expense report), so that FAQ questions meet values they must not take."""
    tasks = ["normalize_company_name", "normalize_address", "classify_product_category", "normalize_phone_number",
             "dedupe_customer", "Extract invoice total", "expense report", "login", "vpn", "leave", "onboarding"]
    statuses = ["succeeded"] * 16 + ["failed", "failed", "needs_review", "skipped"]
    rows = []
    for n in range(14_400):
        day, run = divmod(n // 360, 2)
        rows.append({
            "execution_id": f"ex-202611{day + 1:02d}-{run + 1:02d}",
            "task_name": tasks[n % len(tasks)],
            "status": statuses[n % len(statuses)],
            "prompt_version": f"v{n % 12 + 1}",
            "record_id": f"r-{n % 360 + 1:04d}" if n % 7 else f"rec_{n % 60 + 1}",
        })
    return FakeLookup.of_rows(rows)


SAMPLE = _sample_lookup()
BIG = _big_lookup()
LOOKUPS = {"sample": SAMPLE, "big": BIG}


def Q(operation: str, limit: int = 10, **fields: object) -> RecordQuery:
    return RecordQuery(kind="record", operation=operation, limit=limit, **fields)  # type: ignore[arg-type]


def parse(question: str, lookup: FakeLookup = BIG, **kwargs: object) -> ParsedQuestion | None:
    return parse_question(question, lookup, spec=kwargs.pop("spec", SPEC), now=kwargs.pop("now", NOW), **kwargs)  # type: ignore[arg-type]


FAILED = {"status": ["failed"]}
REVIEW = {"status": ["needs_review"]}
EX18 = {"execution_id": ["ex-20261118-01"]}

POSITIVE = [
    # English
    pytest.param("big", "How many records failed in execution ex-20261118-01?", Q("count", where={**EX18, **FAILED}), id="en-count-failed-in-execution"),
    pytest.param("big", "how many failed?", Q("count", where=FAILED), id="en-count-failed-everything"),
    pytest.param("big", "how many faild in ex-20261118-01", Q("count", where={**EX18, **FAILED}), id="en-typo-faild"),
    pytest.param("big", "How many FAILED in EX-20261118-01", Q("count", where={**EX18, **FAILED}), id="en-upper-case-id"),
    pytest.param("sample", "Which records in ex-20261102-02 are waiting for human review?", Q("list", where={"execution_id": ["ex-20261102-02"], **REVIEW}), id="en-eval-q039-review"),
    pytest.param("sample", "In run ex-20261102-01, what was the normalized result for r-0003?", Q("list", where={"execution_id": ["ex-20261102-01"], "record_id": ["r-0003"]}), id="en-eval-q037-lookup"),
    pytest.param("sample", "Did anything fail in the product category run ex-20261103-01, and why?", Q("list", where={"execution_id": ["ex-20261103-01"], **FAILED}), id="en-eval-q043-why-failed"),
    pytest.param("big", "how did prompt v3 do against v2", Q("group", where={"prompt_version": ["v2", "v3"]}, group_by=["prompt_version", "status"]), id="en-prompt-v3-against-v2"),
    pytest.param("big", "What's the latest failure?", Q("latest", limit=1, where=FAILED), id="en-latest-failure"),
    pytest.param("big", "show the last 5 failures of normalize_address", Q("latest", limit=5, where={"task_name": ["normalize_address"], **FAILED}), id="en-last-5-failures-of-task"),
    pytest.param("big", "failures by task", Q("group", where=FAILED, group_by=["task_name"]), id="en-failures-by-task"),
    pytest.param("big", "breakdown of ex-20261118-01 by status", Q("group", where=EX18, group_by=["status"]), id="en-breakdown-by-status"),
    pytest.param("big", "How many errors yesterday?", Q("count", where=FAILED, since=UTC_TODAY - DAY, until=UTC_TODAY), id="en-errors-yesterday"),
    pytest.param("big", "Number of failed records in the last 7 days", Q("count", where=FAILED, since=NOW - 7 * DAY), id="en-last-7-days"),
    pytest.param("big", "list records that need review since 2026-11-18", Q("list", where=REVIEW, since=datetime(2026, 11, 18, tzinfo=UTC)), id="en-review-since-date"),
    pytest.param("big", "how many runs failed on 11/18?", Q("count", where=FAILED, since=UTC_TODAY - 2 * DAY, until=UTC_TODAY - DAY), id="en-on-month-day"),
    pytest.param("big", "how many failed between 11/1 and 11/5", Q("count", where=FAILED, since=datetime(2026, 11, 1, tzinfo=UTC), until=datetime(2026, 11, 6, tzinfo=UTC)), id="en-between-dates"),
    pytest.param("big", "How many Extract invoice total records failed this week?", Q("count", where={"task_name": ["Extract invoice total"], **FAILED}, since=datetime(2026, 11, 16, tzinfo=UTC)), id="en-multi-word-task"),
    pytest.param("big", "how many extract invoice total rows need review", Q("count", where={"task_name": ["Extract invoice total"], **REVIEW}), id="en-multi-word-task-lower-case"),
    pytest.param("big", "What happened to rec_12?", Q("list", where={"record_id": ["rec_12"]}), id="en-record-id-alone"),
    pytest.param("big", "normalize_company_name failures today", Q("list", where={"task_name": ["normalize_company_name"], **FAILED}, since=UTC_TODAY), id="en-snake-case-task-today"),
    pytest.param("big", "failed vs succeeded in ex-20261118-01", Q("group", where={**EX18, "status": ["failed", "succeeded"]}, group_by=["status"]), id="en-status-vs-status"),
    pytest.param("big", "what's the success rate of v3?", Q("group", where={"prompt_version": ["v3"]}, group_by=["status"]), id="en-success-rate"),
    pytest.param("big", "success vs failure by prompt version", Q("group", where={"status": ["failed", "succeeded"]}, group_by=["prompt_version", "status"]), id="en-success-vs-failure-by-version"),
    pytest.param("big", "how many records are there?", Q("count"), id="en-count-everything"),
    pytest.param("big", "ex-20261118-02?", Q("list", where={"execution_id": ["ex-20261118-02"]}), id="en-bare-execution-id"),
    pytest.param("big", "ｅｘ－２０２６１１１８－０１ ｆａｉｌｅｄ？", Q("list", where={**EX18, **FAILED}), id="en-full-width"),
    pytest.param("big", "compare normalize_address and normalize_phone_number", Q("group", where={"task_name": ["normalize_address", "normalize_phone_number"]}, group_by=["task_name", "status"]), id="en-compare-two-tasks"),
    pytest.param("big", "how many records per prompt version?", Q("group", group_by=["prompt_version"]), id="en-per-prompt-version"),
    pytest.param("big", "count by task and status", Q("group", group_by=["task_name", "status"]), id="en-by-two-facets"),
    pytest.param("big", "show the lastest recrods", Q("latest", limit=1), id="en-typos-latest-records"),
    pytest.param("big", "Which tasks have the most failures?", Q("group", where=FAILED, group_by=["task_name"]), id="en-most-failures-by-task"),
    pytest.param("big", "How many records need review right now?", Q("count", where=REVIEW), id="en-need-review-right-now"),
    pytest.param("big", "Any failures today?", Q("list", where=FAILED, since=UTC_TODAY), id="en-any-failures-today"),
    pytest.param("big", "Why did the records fail?", Q("list", where=FAILED), id="en-why-did-records-fail"),
    pytest.param("big", "count of needs review by execution", Q("group", where=REVIEW, group_by=["execution_id"]), id="en-review-by-execution"),
    pytest.param("big", "failed records for task normalize_company_name in v3 since 11/15", Q("list", where={"task_name": ["normalize_company_name"], "prompt_version": ["v3"], **FAILED}, since=UTC_TODAY - 5 * DAY), id="en-three-filters-and-a-date"),
    # Japanese
    pytest.param("big", "ex-20261118-01で失敗したのは何件？", Q("count", where={**EX18, **FAILED}), id="ja-count-failed-in-execution"),
    pytest.param("sample", "ex-20261104-01で失敗したレコードはどれ？エラー内容も教えて", Q("list", where={"execution_id": ["ex-20261104-01"], **FAILED}), id="ja-eval-q038-which-failed"),
    pytest.param("sample", "ex-20261102-01で「さくら」が要確認になったのはなぜ？", Q("list", where={"execution_id": ["ex-20261102-01"], **REVIEW}), id="ja-eval-q042-why-review"),
    pytest.param("big", "昨日コケたやつ何件？", Q("count", where=FAILED, since=JST_TODAY - DAY, until=JST_TODAY), id="ja-colloquial-yesterday"),
    pytest.param("big", "直近7日でエラーになったレコードを教えて", Q("list", where=FAILED, since=NOW - 7 * DAY), id="ja-last-7-days"),
    pytest.param("big", "直近７日でエラーになったレコードを教えて", Q("list", where=FAILED, since=NOW - 7 * DAY), id="ja-full-width-digit"),
    pytest.param("big", "要確認のレコード一覧", Q("list", where=REVIEW), id="ja-review-list"),
    pytest.param("big", "最新の失敗を教えて", Q("latest", limit=1, where=FAILED), id="ja-latest-failure"),
    pytest.param("big", "直近5件の失敗", Q("latest", limit=5, where=FAILED), id="ja-latest-5"),
    pytest.param("big", "ダメだったやつの最新3件", Q("latest", limit=3, where=FAILED), id="ja-colloquial-latest-3"),
    pytest.param("big", "プロンプトバージョン別の成功率", Q("group", group_by=["prompt_version", "status"]), id="ja-success-rate-by-version"),
    pytest.param("big", "v3とv2を比較して", Q("group", where={"prompt_version": ["v2", "v3"]}, group_by=["prompt_version", "status"]), id="ja-compare-versions"),
    pytest.param("big", "タスクごとの失敗件数", Q("group", where=FAILED, group_by=["task_name"]), id="ja-failures-per-task"),
    pytest.param("big", "先週のエラー件数", Q("count", where=FAILED, since=JST_TODAY - 11 * DAY, until=JST_TODAY - 4 * DAY), id="ja-last-week"),
    pytest.param("big", "11月18日以降に失敗したレコードは？", Q("list", where=FAILED, since=JST_TODAY - 2 * DAY), id="ja-since-month-day"),
    pytest.param("big", "18日以降のエラーは？", Q("list", where=FAILED, since=JST_TODAY - 2 * DAY), id="ja-since-day-of-month"),
    pytest.param("big", "ex-20261118-01の内訳", Q("group", where=EX18, group_by=["status"]), id="ja-breakdown"),
    pytest.param("big", "normalize_addressで要確認になったのはどれ？", Q("list", where={"task_name": ["normalize_address"], **REVIEW}), id="ja-task-review"),
    pytest.param("big", "今週NGだったのは何件？", Q("count", where=FAILED, since=JST_TODAY - 4 * DAY), id="ja-ng-this-week"),
    pytest.param("big", "レビュー待ちって今いくつある？", Q("count", where=REVIEW), id="ja-review-waiting-count"),
    pytest.param("sample", "ｒ－０００３の結果は？", Q("list", where={"record_id": ["r-0003"]}), id="ja-full-width-record-id"),
    pytest.param("big", "ex-20261118-01 と ex-20261118-02 の失敗を比較", Q("group", where={"execution_id": ["ex-20261118-01", "ex-20261118-02"], **FAILED}, group_by=["execution_id"]), id="ja-compare-executions"),
    pytest.param("big", "ex-20261118-01 の failed 何件?", Q("count", where={**EX18, **FAILED}), id="mixed-en-ja"),
    pytest.param("big", "今日の要対応は何件", Q("count", where=REVIEW, since=JST_TODAY), id="ja-action-needed-today"),
    pytest.param("big", "要確認が残ってるのはどれ？", Q("list", where=REVIEW), id="ja-review-remaining"),
    pytest.param("big", "ex-20261118-01のどこで失敗した？", Q("list", where={**EX18, **FAILED}), id="ja-where-in-an-execution"),
    pytest.param("big", "エラー率をプロンプト別に", Q("group", group_by=["prompt_version", "status"]), id="ja-error-rate-by-prompt"),
    pytest.param("big", "失敗が一番多いタスクは？", Q("group", where=FAILED, group_by=["task_name"]), id="ja-task-with-most-failures"),
]


@pytest.mark.parametrize(("lookup", "question", "expected"), POSITIVE)
def test_record_questions_become_their_query(lookup: str, question: str, expected: RecordQuery) -> None:
    # GIVEN a store's facet values WHEN a record question is parsed THEN it is exactly its query
    parsed = parse(question, LOOKUPS[lookup])
    assert parsed is not None, question
    assert parsed.query == expected
    assert parsed.unknown == {}
    assert parsed.signals[0] == f"intent:{expected.operation}"


def test_the_table_is_big_enough() -> None:
    ids = [str(p.id) for p in POSITIVE]
    assert len(ids) >= 40 and len(set(ids)) == len(ids)
    assert sum(i.startswith("ja-") for i in ids) >= 15 and sum(i.startswith("en-") for i in ids) >= 15


def _eval_questions() -> list[dict[str, Any]]:
    lines = (ROOT / "samples" / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


FAQ_QUESTIONS = [
    pytest.param(q["question"], id=str(q["id"]))
    for q in _eval_questions()
    if not any(str(k).startswith("record-") for k in q["expected_keys"])
]
RECORD_EVAL_QUESTIONS = [
    pytest.param(q["question"], id=str(q["id"]))
    for q in _eval_questions()
    if any(str(k).startswith("record-") for k in q["expected_keys"])
]
FAQ_ENTRIES = [
    pytest.param(item["question"], id=item["item_key"])
    for item in map(json.loads, (ROOT / "samples" / "knowledge.jsonl").read_text(encoding="utf-8").splitlines())
    if item.get("kind") == "faq"
]
HARD_NEGATIVES = [
    pytest.param("My login failed, what should I do?", id="login-failed"),
    pytest.param("有給は何日もらえる？", id="ja-paid-leave-days"),
    pytest.param("How many days of leave do I get?", id="leave-days"),
    pytest.param("Which VPN should I use?", id="which-vpn"),
    pytest.param("最新の就業規則はどこ？", id="ja-latest-rules"),
    pytest.param("エラーが出てログインできない", id="ja-login-error"),
    pytest.param("How many failed login attempts before my account is locked?", id="failed-login-attempts"),
    pytest.param("パスワードを何回失敗するとロックされますか？", id="ja-password-failures"),
    pytest.param("What's the latest version of the VPN client?", id="latest-vpn-version"),
    pytest.param("Which version of Python should I install?", id="which-python-version"),
    pytest.param("How many prompts can I run per day?", id="prompts-per-day"),
    pytest.param("How much budget per task do we get?", id="budget-per-task"),
    pytest.param("成功するためのコツは？", id="ja-tips-for-success"),
    pytest.param("エラーコード一覧はどこ？", id="ja-error-code-list"),
    pytest.param("失敗した経費精算を取り消すには？", id="ja-cancel-failed-expense"),
    pytest.param("Show me the vacation policy", id="show-policy"),
    pytest.param("How do I report an error in the expense system?", id="report-an-error"),
    pytest.param("Is it ok to work from home today?", id="ok-today"),
    pytest.param("How many days do I have to submit an expense report?", id="expense-report-task-name"),
    pytest.param("I got an error on the v2 VPN client, how many times should I retry?", id="v2-vpn-error"),
    pytest.param("What does normalize_company_name do?", id="what-does-task-do"),
    pytest.param("直近の人事異動の一覧を見せて", id="ja-latest-personnel-list"),
    pytest.param("先週の会議の議事録はどこ？", id="ja-last-week-minutes"),
    pytest.param("Where is the leave calendar for this week?", id="leave-calendar-this-week"),
    pytest.param("How many vacation days are left this year?", id="vacation-left"),
    pytest.param("Which onboarding tasks do I have to finish in the first week?", id="onboarding-tasks"),
    pytest.param("Can I compare health insurance plans?", id="compare-plans"),
    pytest.param("What is the latest news?", id="latest-news"),
    pytest.param("レビューの締め切りは何日ですか？", id="ja-review-deadline"),
    pytest.param("How do I fix error ABC-123 in the expense tool?", id="foreign-id-like-token"),
    pytest.param("P1の障害が起きたら何件まで同時に対応する？", id="ja-p1-incident"),
    pytest.param("How are needs_review records from the normalization pipeline handled?", id="status-value-in-faq"),
    pytest.param("結果のサマリは #ops-pipeline に投稿され、失敗（failed）と要確認の件数も表示されます。", id="ja-faq-answer-sentence"),
    pytest.param("   ", id="blank"),
]
# About records, but asking how to do something or who does it: the FAQ answers these.
OPS_HOW_TO = [
    pytest.param("How do I retry the failed rows of ex-20261118-01?", id="how-do-i-with-an-id"),
    pytest.param("How do I see the latest records?", id="how-do-i-see-records"),
    pytest.param("What should I do when a run fails?", id="what-should-i-do"),
    pytest.param("Who reviews the needs_review records?", id="who-reviews"),
    pytest.param("最新の実行結果はどこで見られる？", id="ja-where-to-see"),
    pytest.param("ex-20261118-01の失敗をどうやって再実行する？", id="ja-how-with-an-id"),
    pytest.param("How many retries does the pipeline do for failed records?", id="pipeline-retries"),
    pytest.param("How long are records kept?", id="retention"),
]


@pytest.mark.parametrize("lookup", ["sample", "big"])
@pytest.mark.parametrize("question", FAQ_QUESTIONS + FAQ_ENTRIES + HARD_NEGATIVES + OPS_HOW_TO)
def test_questions_that_are_not_about_records_are_none(question: str, lookup: str) -> None:
    # GIVEN the FAQ questions of the evaluation set, every FAQ entry's own question and hard
    # negatives WHEN parsed THEN no record query
    assert parse(question, LOOKUPS[lookup]) is None


NOT_ABOUT_RECORDS = [
    p for p in HARD_NEGATIVES
    if p.id not in {"failed-login-attempts", "ja-error-code-list", "v2-vpn-error", "what-does-task-do", "prompts-per-day",
                    "status-value-in-faq", "ja-faq-answer-sentence"}  # these speak of records or ask about a status
]


@pytest.mark.parametrize("lookup", ["sample", "big"])
@pytest.mark.parametrize("question", NOT_ABOUT_RECORDS)
def test_questions_far_from_records_do_not_offer_the_record_tools(question: str, lookup: str) -> None:
    # GIVEN questions with no record noun, no ID and no status word asked about WHEN checked THEN no tools
    # (a store whose tasks are called login, vpn and leave included)
    assert record_signal(question, LOOKUPS[lookup], spec=SPEC) is False


@pytest.mark.parametrize(
    "question",
    ["How many failed login attempts before my account is locked?", "エラーコード一覧はどこ？", "What does normalize_company_name do?"]
    + [p.values[0] for p in OPS_HOW_TO],
)
def test_record_signal_is_broader_than_the_parser(question: str) -> None:
    # GIVEN a status word asked about, or a task's own name WHEN checked THEN Claude gets the tools
    # to decide, although the parser does not take it as a record query
    assert record_signal(question, BIG, spec=SPEC)
    assert parse(question) is None


@pytest.mark.parametrize(
    ("lookup", "question"),
    [(p.values[0], p.values[1]) for p in POSITIVE]
    + [("sample", p.values[0]) for p in RECORD_EVAL_QUESTIONS if p.id != "q041"],  # q041 names no value: retrieval's
)
def test_record_questions_offer_the_record_tools(lookup: str, question: str) -> None:
    assert record_signal(question, LOOKUPS[lookup], spec=SPEC)


def _sample_items() -> list[dict[str, str]]:
    lines = (ROOT / "samples" / "knowledge.jsonl").read_text(encoding="utf-8").splitlines()
    return [item for item in map(json.loads, lines) if item.get("kind") == "record"]


# q041 names no value, q040 asks about one row's content: retrieval answers both better than a list.
RETRIEVAL_QUESTIONS = {"q040", "q041"}


@pytest.mark.parametrize("question", [p for p in RECORD_EVAL_QUESTIONS if p.id not in RETRIEVAL_QUESTIONS])
def test_record_questions_of_the_evaluation_list_their_expected_record(question: str) -> None:
    # GIVEN the record questions of samples/eval WHEN parsed and run over the sample records
    # THEN the expected record is among those listed
    expected = next(q["expected_keys"] for q in _eval_questions() if q["question"] == question)
    parsed = parse(question, SAMPLE)
    assert parsed is not None and parsed.query.operation == "list"
    listed = [i["item_key"] for i in _sample_items() if all(i.get(f) in v for f, v in parsed.query.where.items())]
    assert set(expected) <= set(listed[: parsed.query.limit])


def test_a_question_about_a_rows_content_is_left_to_retrieval() -> None:
    # q040 names an execution but asks what one row of it (リチウムイオン電池) became
    question = next(q["question"] for q in _eval_questions() if q["id"] == "q040")
    assert parse(question, SAMPLE) is None
    assert record_signal(question, SAMPLE, spec=SPEC)


def test_a_question_naming_no_value_nor_record_word_is_left_to_retrieval() -> None:
    # q041 asks about "the phone normalization" and an extension number: retrieval finds that record
    question = next(q["question"] for q in _eval_questions() if q["id"] == "q041")
    assert parse(question, SAMPLE) is None


UNKNOWN = [
    pytest.param("How many failed in ex-20261199-01?", Q("count", where={"execution_id": ["ex-20261199-01"], **FAILED}),
                 {"execution_id": ["ex-20261199-01"]}, id="execution-that-does-not-exist"),
    pytest.param("show failures for ex-2026111-01", Q("list", where={"execution_id": ["ex-2026111-01"], **FAILED}),
                 {"execution_id": ["ex-2026111-01"]}, id="mistyped-execution"),
    pytest.param("how many records with prompt v13?", Q("count", where={"prompt_version": ["v13"]}),
                 {"prompt_version": ["v13"]}, id="prompt-version-that-does-not-exist"),
    pytest.param("normalize_company_nam failures", Q("list", where={"task_name": ["normalize_company_nam"], **FAILED}),
                 {"task_name": ["normalize_company_nam"]}, id="mistyped-task"),
    pytest.param("R-9999の結果は？", Q("list", where={"record_id": ["r-9999"]}), {"record_id": ["r-9999"]}, id="record-upper-case"),
    pytest.param("compare ex-20261118-01 and ex-20261199-01",
                 Q("group", where={"execution_id": ["ex-20261118-01", "ex-20261199-01"]}, group_by=["execution_id", "status"]),
                 {"execution_id": ["ex-20261199-01"]}, id="one-known-one-unknown"),
    pytest.param("ex-20261199-01で失敗したのは何件？", Q("count", where={"execution_id": ["ex-20261199-01"], **FAILED}),
                 {"execution_id": ["ex-20261199-01"]}, id="ja-execution-that-does-not-exist"),
]


@pytest.mark.parametrize(("question", "expected", "unknown"), UNKNOWN)
def test_values_shaped_like_existing_ones_are_unknown_never_dropped(
    question: str, expected: RecordQuery, unknown: dict[str, list[str]]
) -> None:
    # GIVEN an id with the prefix and shape of a facet's values that no record has WHEN parsed
    # THEN it is reported unknown and kept in where (the answer says it does not exist)
    parsed = parse(question)
    assert parsed is not None
    assert parsed.query == expected
    assert parsed.unknown == unknown
    assert f"unknown:{next(iter(unknown))}" in parsed.signals


def test_an_id_like_token_of_no_known_shape_is_neither_unknown_nor_a_signal() -> None:
    assert parse("How many failed in zz-123?") is None
    assert parse("ex-20261118-01 and zz-123: how many failed?").unknown == {}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "question",
    [p.values[1] for p in POSITIVE] + [p.values[0] for p in FAQ_QUESTIONS + HARD_NEGATIVES + OPS_HOW_TO + UNKNOWN],
)
def test_one_facet_matches_call_at_most(question: str) -> None:
    lookup = BIG.spy()
    parse(question, lookup)
    assert len(lookup.matches) <= 1
    assert all(len(values) <= 400 for values in lookup.matches)


def test_a_question_with_no_candidate_token_asks_the_store_nothing() -> None:
    lookup = BIG.spy()
    assert parse("昨日コケたやつ何件？", lookup) is not None
    assert lookup.matches == [] and lookup.prefixes == []


def test_a_long_question_is_cut_and_its_candidates_bounded() -> None:
    lookup = BIG.spy()
    question = " ".join(f"word{i} alpha beta" for i in range(1500))
    assert parse(question, lookup) is None
    assert len(lookup.matches) == 1 and len(lookup.matches[0]) <= 400
    assert len(lookup.prefixes) <= 3 * 2 * len(SPEC.facets)


def test_more_values_than_a_query_takes_is_no_record_question() -> None:
    # GIVEN 51 record ids (a query takes 50 values of a facet) WHEN parsed THEN None, not an error
    ids = [f"r-{n:04d}" for n in range(1, 52)]
    assert parse(f"how many failed in {' '.join(ids[:50])}") is not None
    assert parse(f"how many failed in {' '.join(ids)}") is None


def test_a_token_longer_than_a_facet_value_is_no_candidate() -> None:
    lookup = BIG.spy()
    parsed = parse("how many failed in ex-20261118-01 ex-" + "1" * 300, lookup)
    assert parsed is not None and parsed.query.where == {**EX18, **FAILED}
    assert all(len(v) <= 256 for values in lookup.matches for v in values)


def test_the_signals_say_why() -> None:
    parsed = parse("How many records failed in execution ex-20261118-01 yesterday?")
    assert parsed is not None
    assert parsed.signals[0] == "intent:count"
    assert {"facet:execution_id", "time"} <= set(parsed.signals)
    assert {"facet:status", "word:status"} & set(parsed.signals)
    grouped = parse("failures by task")
    assert grouped is not None and "group:task_name" in grouped.signals


@pytest.mark.parametrize(
    ("question", "since"),
    [
        pytest.param("failures today", datetime(2026, 11, 19, tzinfo=UTC), id="english-utc"),
        pytest.param("今日の失敗", datetime(2026, 11, 19, 15, tzinfo=UTC), id="japanese-jst"),
    ],
)
def test_calendar_days_are_japan_time_for_japanese_and_utc_otherwise(question: str, since: datetime) -> None:
    # GIVEN 20:00 UTC on the 19th, which is 05:00 on the 20th in Japan
    parsed = parse(question, now=datetime(2026, 11, 19, 20, tzinfo=UTC))
    assert parsed is not None and parsed.query.since == since


def test_now_defaults_to_the_current_time_and_naive_means_utc() -> None:
    naive = parse("failures today", now=datetime(2026, 11, 19, 20))
    assert naive is not None and naive.query.since == datetime(2026, 11, 19, tzinfo=UTC)
    current = parse_question("failures in the last 2 hours", BIG, spec=SPEC)
    assert current is not None and current.query.since is not None
    expected = datetime.now(UTC) - timedelta(hours=2)
    assert abs((current.query.since - expected).total_seconds()) < 60


TIMES = [
    pytest.param("2026-11-01〜2026-11-05", UTC, datetime(2026, 11, 1), datetime(2026, 11, 6), id="range-wave-dash"),
    pytest.param("11/1から11/5まで", JST, datetime(2026, 10, 31, 15), datetime(2026, 11, 5, 15), id="range-kara-made"),
    pytest.param("from nov 1 to nov 5", UTC, datetime(2026, 11, 1), datetime(2026, 11, 6), id="range-from-to"),
    pytest.param("before 11/18", UTC, None, datetime(2026, 11, 18), id="before"),
    pytest.param("until 11/18", UTC, None, datetime(2026, 11, 19), id="until-includes-the-day"),
    pytest.param("after 11/18", UTC, datetime(2026, 11, 19), None, id="after-excludes-the-day"),
    pytest.param("11/18より前", JST, None, datetime(2026, 11, 17, 15), id="ja-before"),
    pytest.param("2026年11月18日まで", JST, None, datetime(2026, 11, 18, 15), id="ja-until"),
    pytest.param("12/25", UTC, datetime(2025, 12, 25), datetime(2025, 12, 26), id="month-day-not-in-the-future"),
    pytest.param("25日以降", JST, datetime(2026, 10, 24, 15), None, id="day-of-month-of-last-month"),
    pytest.param("2/30", UTC, None, None, id="no-such-date"),
    pytest.param("since 11/18 until 11/10", UTC, datetime(2026, 11, 18), None, id="end-before-start-dropped"),
    pytest.param("一昨日", JST, datetime(2026, 11, 17, 15), datetime(2026, 11, 18, 15), id="ja-day-before-yesterday"),
    pytest.param("this month", UTC, datetime(2026, 11, 1), None, id="this-month"),
    pytest.param("先月", JST, datetime(2026, 9, 30, 15), datetime(2026, 10, 31, 15), id="ja-last-month"),
    pytest.param("in the past 24 hours", UTC, datetime(2026, 11, 19, 3), None, id="past-hours"),
    pytest.param("過去2週間", JST, datetime(2026, 11, 6, 3), None, id="ja-past-weeks"),
    pytest.param("past week", UTC, datetime(2026, 11, 13, 3), None, id="past-week-is-seven-days"),
    pytest.param("last week", UTC, datetime(2026, 11, 9), datetime(2026, 11, 16), id="last-week-is-the-calendar-week"),
    pytest.param("ex-20261118-01", UTC, None, None, id="an-id-is-no-date"),
]


def _utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment else None


@pytest.mark.parametrize(("text", "zone", "since", "until"), TIMES)
def test_time_phrases(text: str, zone: timezone, since: datetime | None, until: datetime | None) -> None:
    # GIVEN a phrase and the asker's zone WHEN read at NOW THEN the range in UTC (naive = UTC above)
    found = read_time(text, NOW, zone)
    assert (found.since, found.until) == (_utc(since), _utc(until))
    assert bool(found.spans) == bool(since or until)


def test_a_kind_without_facets_has_no_record_questions() -> None:
    assert parse("How many failed in ex-20261118-01?", spec=KindSpec()) is None
    assert record_signal("How many failed in ex-20261118-01?", BIG, spec=KindSpec()) is False


def test_a_teams_own_facets_and_words() -> None:
    # GIVEN a kind with a batch facet and its own status word WHEN asked THEN both are used
    spec = KindSpec(facets=("batch", "status"), values={"status": {"skipped": ["スキップ", "skipped"]}})
    lookup = FakeLookup({"batch": Counter({"b-0007": 3}), "status": Counter({"skipped": 1})})
    parsed = parse("b-0007でスキップは何件？", lookup, spec=spec, kind="job")
    assert parsed is not None
    assert parsed.query == RecordQuery(kind="job", operation="count", where={"batch": ["b-0007"], "status": ["skipped"]})
    grouped = parse("how many per batch", lookup, spec=spec)
    assert grouped is not None and grouped.query.group_by == ["batch"]


def test_facets_the_kind_does_not_have_are_ignored() -> None:
    lookup = FakeLookup({"owner": Counter({"ex-20261118-01": 1})})
    assert parse("ex-20261118-01", lookup) is None


@pytest.mark.parametrize(
    ("question", "facet"),
    [
        pytest.param("how many failed with prompt v3", "prompt_version", id="named-facet-wins"),
        pytest.param("how many failed in task v3", "task_name", id="other-named-facet-wins"),
        pytest.param("how many failed in v3", "task_name", id="else-the-first-facet"),
    ],
)
def test_a_value_of_two_facets_goes_to_the_one_the_question_names(question: str, facet: str) -> None:
    lookup = FakeLookup({"task_name": Counter({"v3": 1}), "prompt_version": Counter({"v3": 1})})
    parsed = parse(question, lookup)
    assert parsed is not None and parsed.query.where == {facet: ["v3"], **FAILED}


def test_the_list_limit_is_the_callers_unless_the_question_says() -> None:
    assert parse("list the failed records", limit=25).query.limit == 25  # type: ignore[union-attr]
    assert parse("latest 500 failures").query.limit == 100  # type: ignore[union-attr]
    assert parse("top 3 failures in ex-20261118-01").query.operation == "list"  # type: ignore[union-attr]


def test_real_words_are_not_typos() -> None:
    # "filed" is no "failed": the records are counted without a status filter
    parsed = parse("How many records in ex-20261118-01 were filed?")
    assert parsed is not None and parsed.query.where == EX18


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        pytest.param("ｅｘ－２０２６１１１８－０１", "ex-20261118-01", id="full-width"),
        pytest.param("ex‐20261118−01", "ex-20261118-01", id="unicode-hyphen-and-minus"),
        pytest.param("ex-20261118ー01", "ex-20261118-01", id="katakana-long-mark-between-digits"),
        pytest.param("ex\u200b-20261118-01", "ex-20261118-01", id="zero-width-space"),
        pytest.param("レビュー", "レビュー", id="long-mark-in-katakana-kept"),
    ],
)
def test_normalise(raw: str, normal: str) -> None:
    assert normalise(raw) == normal


@pytest.mark.parametrize(
    ("word", "target", "close"),
    [
        pytest.param("faild", "failed", True, id="deletion"),
        pytest.param("faileed", "failed", True, id="insertion"),
        pytest.param("fxiled", "failed", True, id="replacement"),
        pytest.param("falied", "failed", True, id="swap"),
        pytest.param("fxxled", "failed", False, id="two-replacements"),
        pytest.param("abcdef", "badcef", False, id="two-swaps"),
        pytest.param("fial", "fail", False, id="too-short"),
        pytest.param("fa", "failed", False, id="far-apart-in-length"),
    ],
)
def test_one_typo(word: str, target: str, close: bool) -> None:
    assert phrases.close_enough(word, target) is close


def test_a_one_kanji_word_inside_another_word_is_not_that_word() -> None:
    # 行 (row) inside 銀行 (bank) is no record noun
    assert parse("銀行の一覧") is None
    assert parse("行の一覧") == parse("レコードの一覧")
