"""`kotae eval dataset --from-feedback` end to end: a fixture answer log written by the real
record functions, the dataset it gives, and a round trip through `kotae eval answers`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from kotae.models import Answer
from kotae.ops.answer_log import LocalSink, S3Sink, answer_record, feedback_record
from kotae.ops.redaction import RedactingSink

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
NOW = datetime.now(UTC)


def record(answer_id: str, question: str, outcome: str, *, days: float = 1, channel: str = "C0GEN") -> dict:
    answer = Answer(
        question=question, text="…", found=outcome == "answered", prompt_task="answer",
        prompt_version="v1", model_id="extractive",
    )  # fmt: skip
    return answer_record(answer, answer_id=answer_id, outcome=outcome, team_id="T1", channel_id=channel,
                         user_id="U1", now=NOW - timedelta(days=days))  # fmt: skip


def write_fixture_log(sink, dropping) -> None:
    """Six answers of the last month and one older: two 👎 (one withdrawn), two not found, one
    dropped by KOTAE_LOG_TEXT=drop, a near-duplicate, and a 👎 from before the window."""
    sink.write("answers", record("a1", "社外からVPNに接続する方法は？", "answered", days=3))
    sink.write("answers", record("a2", "What parental leave options are available?", "not_found", days=2))
    sink.write("answers", record("a3", "社外から VPN に接続する方法は", "not_found", days=1, channel="C0HR"))
    sink.write("answers", record("a4", "How does printing work in the office?", "answered", days=2))
    sink.write("answers", record("a5", "Where do I park my bike?", "not_found", days=1))
    dropping.write("answers", record("a6", "my number is 090-1234-5678, call me", "not_found", days=1))
    sink.write("answers", record("a0", "An old question", "not_found", days=45))
    sink.write(
        "feedback",
        feedback_record("a1", "down", user_id="U1", now=NOW - timedelta(days=2)) | {"reason": "outdated"},
    )
    sink.write("feedback", feedback_record("a4", "down", user_id="U2", now=NOW - timedelta(days=2)))
    sink.write("feedback", feedback_record("a4", "up", user_id="U2", now=NOW - timedelta(days=1)))


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def local_log(tmp_path) -> Path:
    sink = LocalSink(tmp_path / "data" / "logs")  # KOTAE_DATA_DIR of the tests (tests/conftest.py)
    write_fixture_log(sink, RedactingSink(sink, "drop"))
    return tmp_path


def test_the_dataset_from_feedback_and_its_round_trip_through_eval_answers(run, local_log) -> None:
    out_path = local_log / "feedback.jsonl"
    # WHEN the dataset is written from the last 30 days of feedback
    code, out, err = run("eval", "dataset", "--from-feedback", "--since", "30d", str(out_path), "--json")
    # THEN three cases: the 👎 VPN question (with the not-found duplicate folded in), two not found
    assert code == 0, err
    summary = json.loads(out)
    assert summary["read"] == {"answers": 6, "feedback": 3}
    assert summary["selected"] == 5 and summary["cases"] == 3 and summary["needs_review"] == 3
    assert summary["skipped"] == {"thumbs_down_withdrawn": 1, "question_not_logged": 1, "duplicate": 1}
    cases = lines(out_path)
    assert [(c["id"], c["source"], c["lang"], c["answer_ids"]) for c in cases] == [
        ("fb-a1", "thumbs_down", "ja", ["a1", "a3"]),
        ("fb-a2", "not_found", "en", ["a2"]),
        ("fb-a5", "not_found", "en", ["a5"]),
    ]
    assert cases[0]["reason"] == "outdated" and cases[0]["channel_ids"] == ["C0GEN", "C0HR"]
    assert all(c["expected_keys"] == [] and c["needs_review"] and "scopes" not in c for c in cases)
    # AND eval answers refuses to score a set nobody has reviewed
    code, _, err = run("eval", "answers", str(out_path), "--knowledge", str(SAMPLES / "knowledge.jsonl"))
    assert code == 2 and "all 3 questions await review" in err
    # WHEN a person fills the expected key of the VPN question, and marks the bike one unanswerable
    cases[0].update(expected_keys=["faq-ja-003"], needs_review=False)
    cases[2].update(answerable=False, needs_review=False)
    out_path.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases), encoding="utf-8")
    code, out, err = run(
        "eval", "answers", str(out_path), "--knowledge", str(SAMPLES / "knowledge.jsonl"),
        "--out", str(local_log / "report"), "--json",
    )  # fmt: skip
    # THEN the two reviewed questions are scored and the third is counted as awaiting review
    assert code == 0, err
    result = json.loads(out)
    figures = result["versions"]["v1"]
    assert result["awaiting_review"] == 1
    assert figures["questions"] == 2 and figures["answerable"] == 1 and figures["errors"] == 0
    assert figures["retrieval_hit_rate"] == 1.0 and figures["correct_refusal_rate"] == 1.0
    assert figures["accuracy"] == 1.0


def test_the_text_summary_goes_to_stderr_and_says_what_is_left(run, local_log) -> None:
    out_path = local_log / "feedback.jsonl"
    code, out, err = run("eval", "dataset", "--from-feedback", str(out_path))
    assert code == 0 and out == ""
    assert "read 6 answers and 3 feedback records" in err and "wrote 3 cases" in err
    assert "KOTAE_LOG_TEXT=drop" in err and "fill expected_keys" in err


def test_items_saved_for_a_question_fill_its_expected_keys(run, local_log, tmp_path) -> None:
    # GIVEN the sample knowledge, whose questions match two logged ones, and a hand-made item
    # saved for answer a5 (as Save-as-FAQ will write it)
    saved = tmp_path / "saved.jsonl"
    saved.write_text(
        json.dumps({"item_key": "faq-bike", "question": "Bike parking", "saved_for_answer_id": "a5"}) + "\n"
    )
    out_path = local_log / "feedback.jsonl"
    code, out, err = run("eval", "dataset", "--from-feedback", str(out_path), "--json",
                         "--items", str(SAMPLES / "knowledge.jsonl"), "--items", str(saved))  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["from_saved_items"] == 3 and json.loads(out)["needs_review"] == 0
    assert [(c["expected_keys"], c["saved_item"]) for c in lines(out_path)] == [
        (["faq-ja-003"], "faq-ja-003 (same question)"),
        (["faq-en-001"], "faq-en-001 (same question)"),
        (["faq-bike"], "faq-bike (saved_for_answer_id a5)"),
    ]
    # AND the whole set runs through eval answers as it is
    code, out, err = run("eval", "answers", str(out_path), "--knowledge", str(SAMPLES / "knowledge.jsonl"),
                         "--out", str(tmp_path / "report"), "--json")  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["versions"]["v1"]["questions"] == 3


def test_channel_profiles_give_each_case_its_scopes(run, local_log, tmp_path, monkeypatch) -> None:
    profiles = tmp_path / "profiles.json"
    profiles.write_text(json.dumps({"channels": {"C0HR": {"scopes": ["public", "hr"]}}}))
    monkeypatch.setenv("KOTAE_CHANNEL_PROFILES", str(profiles))
    out_path = local_log / "feedback.jsonl"
    code, out, _ = run("eval", "dataset", "--from-feedback", str(out_path), "--json")
    # THEN the HR channel's VPN question is no longer folded into the general one
    assert code == 0 and json.loads(out)["skipped"].get("duplicate") is None
    assert [(c["id"], c["scopes"]) for c in lines(out_path)] == [
        ("fb-a1", ["public"]), ("fb-a2", ["public"]), ("fb-a3", ["public", "hr"]), ("fb-a5", ["public"]),
    ]  # fmt: skip


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("KOTAE_AWS_REGION", "ap-northeast-1")
    with mock_aws():
        yield


def test_the_log_in_s3_and_profiles_in_ssm(run, aws, tmp_path, monkeypatch) -> None:
    s3 = boto3.client("s3", region_name="ap-northeast-1")
    s3.create_bucket(
        Bucket="kotae-answer-log", CreateBucketConfiguration={"LocationConstraint": "ap-northeast-1"}
    )
    sink = S3Sink(s3, "kotae-answer-log")
    write_fixture_log(sink, RedactingSink(sink, "drop"))
    boto3.client("ssm", region_name="ap-northeast-1").put_parameter(
        Name="/kotae/profiles", Type="String", Value=json.dumps({"default": {"scopes": ["public"]}})
    )
    monkeypatch.setenv("KOTAE_CHANNEL_PROFILES_PARAMETER", "/kotae/profiles")
    out_path = tmp_path / "feedback.jsonl"
    code, out, err = run(
        "eval", "dataset", "--from-feedback", "--bucket", "kotae-answer-log", str(out_path), "--json"
    )
    assert code == 0, err
    summary = json.loads(out)
    assert summary["log"] == "s3://kotae-answer-log/" and summary["cases"] == 3
    assert all(c["scopes"] == ["public"] for c in lines(out_path))


def test_an_unreadable_profile_parameter_is_a_settings_error(run, aws, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("KOTAE_CHANNEL_PROFILES_PARAMETER", "/kotae/missing")
    code, _, err = run("eval", "dataset", "--from-feedback", str(tmp_path / "o.jsonl"))
    assert code == 2 and "KOTAE_CHANNEL_PROFILES_PARAMETER=/kotae/missing cannot be read" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["o.jsonl"], "--from-feedback", id="no-source"),
        pytest.param(["--from-feedback", "--since", "a month", "o.jsonl"], "give a span", id="bad-since"),
        pytest.param(["--from-feedback", "--items", "bad.jsonl", "o.jsonl"], "--items", id="bad-items"),
        pytest.param(["--from-feedback", "o.jsonl"], "KOTAE_CHANNEL_PROFILES=", id="missing-profiles"),
    ],
)
def test_bad_input_is_reported(run, tmp_path, monkeypatch, args: list[str], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.jsonl").write_text('{"no": "key"}\n')
    if message.startswith("KOTAE_CHANNEL_PROFILES"):
        monkeypatch.setenv("KOTAE_CHANNEL_PROFILES", str(tmp_path / "absent.json"))
    code, _, err = run("eval", "dataset", *args)
    assert code == 2 and message in err
