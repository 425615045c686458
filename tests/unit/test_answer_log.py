from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from kotae.errors import StoreError
from kotae.models import Answer, Citation, Document, SearchHit, Usage
from kotae.ops.answer_log import LocalSink, S3Sink, answer_record, feedback_record

NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


def answer() -> Answer:
    doc = Document(chunk_id="faq-1#0000", item_key="faq-1", kind="faq", title="VPN", text="t")
    return Answer(
        question="VPN?",
        text="Use GP [S1].",
        found=True,
        prompt_task="answer",
        prompt_version="v2",
        model_id="m",
        citations=[Citation(id="S1", key="faq-1", title="VPN", score=0.8)],
        hits=[SearchHit(document=doc, score=1.0, relevance=0.8)],
        usage=Usage(input_tokens=300, output_tokens=40),
        timings_ms={"retrieve": 12.5, "generate": 800.0},
        route="light",
        route_reason="1 short source (4 chars), short question and thread",
        cost_usd=0.0005,
    )


def test_answer_record_carries_the_trace() -> None:
    record = answer_record(
        answer(), answer_id="a1", outcome="answered", team_id="T", channel_id="C", user_id="U", now=NOW
    )
    assert record == {
        "answer_id": "a1",
        "time": "2026-11-21T09:30:00+00:00",
        "team_id": "T",
        "channel_id": "C",
        "user_id": "U",
        "question": "VPN?",
        "found": True,
        "outcome": "answered",
        "retrieved": [{"key": "faq-1", "chunk_id": "faq-1#0000", "score": 1.0, "relevance": 0.8}],
        "cited": ["faq-1"],
        "prompt_task": "answer",
        "prompt_version": "v2",
        "model_id": "m",
        "input_tokens": 300,
        "output_tokens": 40,
        "latency_ms": {"retrieve": 12.5, "generate": 800.0},
        "total_ms": 812.5,
        "records": None,
        "route": "light",
        "route_reason": "1 short source (4 chars), short question and thread",
        "cost_usd": 0.0005,
    }


def test_local_sink_appends_jsonl_per_day(tmp_path) -> None:
    sink = LocalSink(tmp_path)
    sink.write("answers", answer_record(answer(), answer_id="a1", outcome="answered", now=NOW))
    sink.write("answers", answer_record(answer(), answer_id="a2", outcome="answered", now=NOW))
    sink.write(
        "feedback", feedback_record("a1", "down", user_id="U", reason="outdated", comment="moved", now=NOW)
    )
    lines = (tmp_path / "answers" / "dt=2026-11-21" / "answers.jsonl").read_text().splitlines()
    assert [json.loads(line)["answer_id"] for line in lines] == ["a1", "a2"]
    feedback = json.loads((tmp_path / "feedback" / "dt=2026-11-21" / "feedback.jsonl").read_text())
    assert feedback == {
        "answer_id": "a1",
        "feedback": "down",
        "time": "2026-11-21T09:30:00+00:00",
        "user_id": "U",
        "reason": "outdated",
        "comment": "moved",
    }


def test_s3_sink_writes_one_object_per_record() -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="ap-northeast-1")
        s3.create_bucket(
            Bucket="kotae-logs", CreateBucketConfiguration={"LocationConstraint": "ap-northeast-1"}
        )
        sink = S3Sink(s3, "kotae-logs")
        sink.write("answers", answer_record(answer(), answer_id="a1", outcome="answered", now=NOW))
        sink.write("feedback", feedback_record("a1", "down", now=NOW))
        keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="kotae-logs")["Contents"])
        assert keys == [
            "answers/dt=2026-11-21/a1.json",
            "feedback/dt=2026-11-21/a1-2026-11-21T09:30:00+00:00.json",
        ]
        body = json.loads(s3.get_object(Bucket="kotae-logs", Key=keys[0])["Body"].read())
        assert body["prompt_version"] == "v2" and body["total_ms"] == 812.5


def test_s3_errors_are_store_errors() -> None:
    s3 = boto3.client("s3", region_name="ap-northeast-1")
    with Stubber(s3) as stub:
        stub.add_client_error("put_object", "NoSuchBucket", "gone")
        with pytest.raises(StoreError, match="s3://kotae-logs/answers/dt=2026-11-21/a1.json"):
            S3Sink(s3, "kotae-logs").write(
                "answers", answer_record(answer(), answer_id="a1", outcome="answered", now=NOW)
            )
