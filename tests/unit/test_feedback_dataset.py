"""Selecting evaluation cases from the answer log (kotae.evaluation.feedback_dataset) and reading
the log back by day partition (kotae.ops.log_reader)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from kotae.errors import ConfigError, InputError, StoreError
from kotae.evaluation.answers import EvalCase
from kotae.evaluation.feedback_dataset import (
    DatasetReport,
    SavedItems,
    build_dataset,
    normalize,
    profile_scopes,
    ready_cases,
    thumbs_down,
    write_dataset,
)
from kotae.models import Answer, Item
from kotae.ops.answer_log import LocalSink, S3Sink, answer_record, feedback_record
from kotae.ops.log_reader import LocalLog, S3Log, parse_since, partitions, read_records
from kotae.ops.redaction import RedactingSink

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def answered(answer_id: str, question: str, *, outcome: str = "answered", ago: timedelta = timedelta(days=1),
             channel: str | None = "C1") -> dict:  # fmt: skip
    answer = Answer(
        question=question, text="…", found=outcome == "answered", prompt_task="answer",
        prompt_version="v2", model_id="m",
    )  # fmt: skip
    return answer_record(answer, answer_id=answer_id, outcome=outcome, channel_id=channel, user_id="U1",
                         now=NOW - ago)  # fmt: skip


def vote(answer_id: str, value: str, user: str = "U1", ago: timedelta = timedelta(hours=20), **extra) -> dict:
    return {**feedback_record(answer_id, value, user_id=user, now=NOW - ago), **extra}  # type: ignore[arg-type]


# --- selection ---------------------------------------------------------------------------------


def test_thumbs_down_and_not_found_answers_become_cases_for_review() -> None:
    # GIVEN an answer with a 👎 (with the reason another helper adds), a not-found one, a liked one
    answers = [answered("a1", "VPN の設定は？"), answered("a2", "How do I expense a taxi?", outcome="not_found"),
               answered("a3", "Wi-Fi?")]  # fmt: skip
    feedback = [vote("a1", "down", reason="wrong", comment="古い手順"), vote("a3", "up")]
    report = DatasetReport()
    # WHEN the dataset is built
    cases = build_dataset(answers, feedback, report=report)
    # THEN the first two are cases a person must complete, in the eval answers format
    assert [(c.id, c.source, c.lang, c.reason, c.needs_review) for c in cases] == [
        ("fb-a1", "thumbs_down", "ja", "wrong", True),
        ("fb-a2", "not_found", "en", None, True),
    ]
    assert cases[0].comment == "古い手順" and cases[0].channel_ids == ["C1"] and cases[0].scopes is None
    assert cases[0].expected_keys == [] and cases[0].prompt_version == "v2"
    summary = report.as_dict(cases)
    assert summary["read"] == {"answers": 3, "feedback": 2} and summary["by_source"] == {
        "thumbs_down": 1,
        "not_found": 1,
    }
    assert summary["needs_review"] == 2 and summary["skipped"] == {}
    EvalCase.model_validate_json(cases[0].model_dump_json())  # loadable by kotae eval answers


def test_each_users_latest_click_wins() -> None:
    # GIVEN U1 👎 then 👍 (withdrawn), U2 👍 then 👎 (stands), and feedback given out of order
    feedback = [
        vote("a1", "up", ago=timedelta(hours=1)), vote("a1", "down", ago=timedelta(hours=2)),
        vote("a2", "down", user="U2", ago=timedelta(hours=1)), vote("a2", "up", user="U2", ago=timedelta(hours=3)),
        vote("a2", "up", user="U3", ago=timedelta(hours=1)),
    ]  # fmt: skip
    down, withdrawn = thumbs_down(feedback)
    assert set(down) == {"a2"} and down["a2"]["user_id"] == "U2" and withdrawn == 1
    report = DatasetReport()
    cases = build_dataset([answered("a1", "x?"), answered("a2", "y?")], feedback, report=report)
    assert [c.id for c in cases] == ["fb-a2"] and report.skipped == {"thumbs_down_withdrawn": 1}


def test_blocked_and_dropped_questions_are_skipped_and_counted(tmp_path) -> None:
    # GIVEN a log written with KOTAE_LOG_TEXT=drop, a blocked answer, and a masked question
    sink = LocalSink(tmp_path)
    RedactingSink(sink, "drop").write("answers", answered("a1", "secret?", outcome="not_found"))
    RedactingSink(sink, "mask").write(
        "answers", answered("a2", "mail me at a@b.example?", outcome="not_found")
    )
    sink.write("answers", answered("a3", "bad words", outcome="blocked"))
    sink.write("feedback", vote("a3", "down"))
    records = list(read_records(LocalLog(tmp_path), "answers", NOW - timedelta(days=30), NOW, Counter()))
    feedback = list(read_records(LocalLog(tmp_path), "feedback", NOW - timedelta(days=30), NOW, Counter()))
    report = DatasetReport()
    cases = build_dataset(records, feedback, report=report)
    # THEN only the masked one remains, marked as masked
    assert [(c.id, c.question, c.masked) for c in cases] == [("fb-a2", "mail me at [email]?", True)]
    assert report.skipped == {"question_not_logged": 1, "blocked": 1}


def test_near_identical_questions_with_the_same_scopes_are_one_case() -> None:
    answers = [
        answered("a1", "ＶＰＮ の  設定は？", ago=timedelta(days=3), outcome="not_found"),
        answered("a2", "vpn の 設定は?", ago=timedelta(days=2), outcome="not_found", channel="C2"),
        answered("a3", "vpn の 設定は", ago=timedelta(days=1), outcome="not_found", channel="CHR"),
    ]
    scopes = {"C1": ["public"], "C2": ["public"], "CHR": ["hr", "public"]}
    report = DatasetReport()
    cases = build_dataset(answers, [], scopes_for=scopes.get, report=report)
    # the HR channel could see more, so its question is a case of its own
    assert [(c.id, c.answer_ids, c.channel_ids, c.scopes) for c in cases] == [
        ("fb-a1", ["a1", "a2"], ["C1", "C2"], ["public"]),
        ("fb-a3", ["a3"], ["CHR"], ["hr", "public"]),
    ]
    assert report.skipped == {"duplicate": 1}


@pytest.mark.parametrize(
    ("odd", "channels", "version"),
    [
        pytest.param({"channel_id": 5}, [], "v2", id="channel-not-text"),
        pytest.param({"prompt_version": ["v1"]}, ["C1"], None, id="version-not-text"),
        pytest.param({"channel_id": ""}, [], "v2", id="channel-empty"),
    ],
)
def test_odd_fields_from_another_writer_are_left_out_not_fatal(odd: dict, channels: list, version) -> None:
    record = {**answered("a1", "q?", outcome="not_found"), **odd}
    feedback = [vote("a1", "down", reason={"code": 1}, comment=3)]
    [case] = build_dataset([record], feedback)
    assert case.reason is None and case.comment is None and case.source == "thumbs_down"
    assert case.channel_ids == channels and case.prompt_version == version


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("ＶＰＮ？", "vpn", id="full-width-and-question-mark"),
        pytest.param("社外から VPN に接続", "社外からvpnに接続", id="spaced-latin-in-japanese"),
        pytest.param("  How   do I\tlog in ?! ", "howdoilogin", id="whitespace-and-punctuation"),
        pytest.param("有給は。", "有給は", id="japanese-full-stop"),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


# --- items saved for a question ---------------------------------------------------------------


def test_an_item_saved_for_the_answer_gives_the_expected_key() -> None:
    # GIVEN hand-made items: one saved for answer a2 (as Save-as-FAQ will), one with the same question
    saved = SavedItems.of([
        Item(key="faq-new", attributes={"saved_for_answer_id": "a2", "question": "Other wording"}),
        Item(key="faq-same", attributes={"title": "How do I expense a taxi"}),
        Item(key="faq-x", attributes={"saved_for_answer_id": 7, "question": " "}),
    ])  # fmt: skip
    answers = [answered("a1", "VPN?", outcome="not_found"), answered("a2", "vpn?", outcome="not_found", channel="C9"),
               answered("a3", "How do I expense a taxi?", outcome="not_found")]  # fmt: skip
    cases = build_dataset(answers, [], saved=saved)
    # THEN the merged VPN case finds the item saved for its second answer; the taxi one by question
    assert [(c.expected_keys, c.needs_review, c.saved_item) for c in cases] == [
        (["faq-new"], False, "faq-new (saved_for_answer_id a2)"),
        (["faq-same"], False, "faq-same (same question)"),
    ]
    assert DatasetReport().as_dict(cases)["from_saved_items"] == 2


# --- channel profiles -------------------------------------------------------------------------


def test_profile_scopes_map_channels_and_fall_back_to_the_default() -> None:
    scopes_for = profile_scopes(
        json.dumps({"default": {"scopes": ["public"]}, "channels": {"CHR": {"scopes": ["public", "hr"]},
                    "COPS": {"route": "strong"}}}), "test")  # fmt: skip
    assert scopes_for("CHR") == ["public", "hr"] and scopes_for("COPS") == ["public"]
    assert scopes_for("D123") == ["public"] and scopes_for(None) == ["public"]


@pytest.mark.parametrize(
    "document",
    [
        pytest.param("{", id="not-json"),
        pytest.param('{"channels": {"C": {"scopes": "hr"}}}', id="scopes-not-list"),
    ],
)
def test_a_bad_profile_document_is_a_settings_error(document: str) -> None:
    with pytest.raises(ConfigError, match="where is not a valid channel profile document"):
        profile_scopes(document, "where")


# --- eval answers' side -----------------------------------------------------------------------


def test_ready_cases_leave_out_the_lines_awaiting_review() -> None:
    cases = [
        EvalCase(id="1", question="q", needs_review=True),
        EvalCase(id="2", question="q", expected_keys=["k"]),
    ]
    ready, pending = ready_cases(cases)
    assert [c.id for c in ready] == ["2"] and pending == 1
    with pytest.raises(InputError, match="all 1 questions await review"):
        ready_cases(cases[:1])


def test_write_dataset_to_an_unusable_path_is_an_input_error(tmp_path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="cannot write"):
        write_dataset(tmp_path / "file" / "out.jsonl", [])


# --- reading the log --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("30d", NOW - timedelta(days=30), id="days"),
        pytest.param("12h", NOW - timedelta(hours=12), id="hours"),
        pytest.param("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC), id="iso-date"),
        pytest.param("2026-11-01T09:00+09:00", datetime(2026, 11, 1, tzinfo=UTC), id="iso-time-offset"),
        pytest.param("2026-11-01t09:00", datetime(2026, 11, 1, 9, tzinfo=UTC), id="iso-time-naive-is-utc"),
    ],
)
def test_parse_since(text: str, expected: datetime) -> None:
    assert parse_since(text, NOW) == expected


@pytest.mark.parametrize("text", [pytest.param("30", id="no-unit"), pytest.param("2w", id="weeks"),
                                  pytest.param("2026-13-01", id="bad-month"), pytest.param("", id="empty")])  # fmt: skip
def test_a_bad_since_is_an_input_error(text: str) -> None:
    with pytest.raises(InputError, match="give a span such as 30d"):
        parse_since(text, NOW)


def test_partitions_cover_the_window_day_by_day() -> None:
    assert partitions(NOW - timedelta(days=2), NOW) == ["dt=2026-11-28", "dt=2026-11-29", "dt=2026-11-30"]


def test_the_local_log_reads_only_the_window_and_counts_unreadable_lines(tmp_path) -> None:
    sink = LocalSink(tmp_path)
    sink.write("answers", answered("old", "q?", ago=timedelta(days=40)))
    sink.write("answers", answered("early", "q?", ago=timedelta(hours=30)))  # same partition, before since
    sink.write("answers", answered("new", "q?", ago=timedelta(hours=1)))
    day = tmp_path / "answers" / "dt=2026-11-30" / "answers.jsonl"
    with day.open("a") as handle:
        handle.write('not json\n["a list"]\n{"answer_id": 1, "time": "2026-11-30T01:00:00"}\n\n')
    problems: Counter[str] = Counter()
    since = NOW - timedelta(hours=12)
    assert [r["answer_id"] for r in read_records(LocalLog(tmp_path), "answers", since, NOW, problems)] == [
        "new"
    ]
    assert problems == {"unreadable_record": 3}


def test_an_unreadable_local_log_file_is_a_store_error(tmp_path) -> None:
    day = tmp_path / "answers" / "dt=2026-11-30" / "answers.jsonl"
    day.parent.mkdir(parents=True)
    day.write_bytes(b"\xff\xfe")
    with pytest.raises(StoreError, match="cannot read"):
        list(LocalLog(tmp_path).texts("answers", "dt=2026-11-30"))


@pytest.fixture
def s3():
    with mock_aws():
        yield boto3.client("s3", region_name="ap-northeast-1")


def test_the_s3_log_lists_only_the_partitions_of_the_window(s3) -> None:
    client = s3
    client.create_bucket(
        Bucket="kotae-logs", CreateBucketConfiguration={"LocationConstraint": "ap-northeast-1"}
    )
    sink = S3Sink(client, "kotae-logs")
    sink.write("answers", answered("old", "q?", ago=timedelta(days=40)))
    sink.write("answers", answered("new", "質問?", ago=timedelta(hours=2)))
    sink.write("feedback", vote("new", "down", ago=timedelta(hours=1)))
    client.put_object(Bucket="kotae-logs", Key="answers/dt=2026-11-30/broken.json", Body=b"{")
    problems: Counter[str] = Counter()
    log = S3Log(client, "kotae-logs")
    answers = list(read_records(log, "answers", NOW - timedelta(days=30), NOW, problems))
    feedback = list(read_records(log, "feedback", NOW - timedelta(days=30), NOW, problems))
    assert [r["answer_id"] for r in answers] == ["new"] and problems == {"unreadable_record": 1}
    assert [c.question for c in build_dataset(answers, feedback)] == ["質問?"]


def test_an_s3_error_is_a_store_error() -> None:
    client = boto3.client("s3", region_name="ap-northeast-1")
    with Stubber(client) as stub:
        stub.add_client_error("list_objects_v2", "AccessDenied", http_status_code=403)
        with pytest.raises(StoreError, match="reading s3://kotae-logs/answers/dt=2026-11-30/"):
            list(S3Log(client, "kotae-logs").texts("answers", "dt=2026-11-30"))
