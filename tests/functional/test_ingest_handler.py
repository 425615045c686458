"""The ingest Lambda end to end: a moto table with a stream, records read back through the
Streams API, Titan through the Bedrock stand-in, the embedded store as the index."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import pytest

import kotae.aws
from ingest import handler as ingest_handler
from ingest.runtime import runtime
from kotae.indexing.render import DocumentRenderer
from kotae.models import Item
from kotae.providers.sqlite_store import SQLiteStore
from kotae.records.keys import describe_key_schema
from tests.conftest import PROMPTS
from tests.standins.bedrock import Fault, bedrock_standin
from tests.standins.streams import knowledge_table


@dataclass
class LambdaContext:
    function_name: str = "kotae-ingest"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:ap-northeast-1:123456789012:function:kotae-ingest"
    aws_request_id: str = "req-1"


def faq(key: str, answer: str = "Use GlobalProtect.", **extra) -> dict:
    return {"item_key": key, "kind": "faq", "question": f"Question {key}?", "answer": answer, **extra}


@pytest.fixture
def env(monkeypatch, tmp_path: Path):
    """GIVEN the Lambda's configuration: Titan (stand-in), SQLite index, the knowledge table."""
    with bedrock_standin() as bedrock:
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", bedrock.url)
        monkeypatch.setenv("KOTAE_EMBEDDER", "titan")
        monkeypatch.setenv("KOTAE_EMBEDDING_DIMENSIONS", "256")
        monkeypatch.setenv("KOTAE_KNOWLEDGE_TABLE", "knowledge")
        monkeypatch.setenv("KOTAE_CHUNK_CHARS", "200")
        monkeypatch.setenv("KOTAE_CHUNK_OVERLAP", "20")
        monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "kotae-ingest")
        runtime.cache_clear()
        kotae.aws.client.cache_clear()
        yield bedrock
        runtime.cache_clear()
        kotae.aws.client.cache_clear()


def invoke(event: dict) -> dict:
    return ingest_handler.handler(event, LambdaContext())


def index_state(store: SQLiteStore) -> dict[str, list[str]]:
    return {key: [d.text for d in store.documents(key)] for key in store.item_keys()}


def table_state(table) -> dict[str, list[str]]:
    from boto3.dynamodb.types import TypeDeserializer

    renderer = DocumentRenderer(PROMPTS, chunk_chars=200, chunk_overlap=20)
    key_schema = describe_key_schema(table.client, table.name)
    out = {}
    for raw in table.client.scan(TableName=table.name)["Items"]:
        deserialized = {k: TypeDeserializer().deserialize(v) for k, v in raw.items()}
        item = Item.from_mapping(deserialized, key_schema=key_schema)
        out[item.key] = [d.text for d in renderer.render(item)]
    return out


def test_index_follows_the_table_exactly(env) -> None:
    with knowledge_table() as table:
        # WHEN items are inserted, changed (one grows, one shrinks) and deleted
        table.put(faq("a", "Short answer."))
        table.put(faq("b", " ".join(f"Sentence {i} about the VPN." for i in range(30))))
        table.put(faq("c", "To be deleted."))
        table.put(
            {
                "item_key": "r-1",
                "kind": "record",
                "record_id": "r-1",
                "execution_id": "ex-1",
                "task_name": "t",
                "input_value": "(株)ほし",
                "normalized_output": {"name": "星"},
                "status": "succeeded",
                "updated_at": "2026",
            }
        )
        assert invoke(table.read_event()) == {"batchItemFailures": []}
        table.put(faq("a", " ".join(f"Longer sentence {i} on returns." for i in range(20))))
        table.put(faq("b", "Now short."))
        table.delete("c")
        assert invoke(table.read_event()) == {"batchItemFailures": []}
        # THEN the index holds exactly what the table holds, chunk for chunk
        store = runtime().kotae.store
        assert index_state(store) == table_state(table)
        assert sorted(index_state(store)) == ["a", "b", "r-1"]
        assert len(store.documents("a")) > 1 and len(store.documents("b")) == 1


def test_unchanged_text_is_not_embedded_and_metadata_still_updates(env) -> None:
    with knowledge_table() as table:
        table.put(faq("a", url="https://old"))
        invoke(table.read_event())
        calls = len(env.calls("invoke"))
        # WHEN only an attribute the template does not render changes, then only the url
        table.put(faq("a", url="https://old", owner="team-it"))
        table.put(faq("a", url="https://new"))
        assert invoke(table.read_event()) == {"batchItemFailures": []}
        # THEN no embedding call was made, and the url is current
        assert len(env.calls("invoke")) == calls
        assert runtime().kotae.store.documents("a")[0].url == "https://new"


def test_replaying_a_batch_changes_nothing_and_older_records_lose(env) -> None:
    with knowledge_table() as table:
        table.put(faq("a", "First."))
        first = table.read_event()
        table.put(faq("a", "Second."))
        second = table.read_event()
        invoke(first)
        invoke(second)
        store = runtime().kotae.store
        before, calls = index_state(store), len(env.calls("invoke"))
        # WHEN both batches are delivered again, oldest last
        assert invoke(second) == {"batchItemFailures": []}
        assert invoke(first) == {"batchItemFailures": []}
        # THEN the newer text stays and nothing was embedded again
        assert index_state(store) == before and "Second." in before["a"][0]
        assert len(env.calls("invoke")) == calls


def test_delete_then_replayed_insert_does_not_resurrect(env) -> None:
    with knowledge_table() as table:
        table.put(faq("a"))
        insert = table.read_event()
        table.delete("a")
        remove = table.read_event()
        invoke(insert)
        invoke(remove)
        invoke(insert)
        assert index_state(runtime().kotae.store) == {}


def test_ttl_expiry_removes_every_chunk(env, caplog) -> None:
    with knowledge_table() as table:
        table.put(faq("a", " ".join(f"Sentence {i} here." for i in range(40))))
        invoke(table.read_event())
        table.delete("a")
        event = table.read_event()
        event["Records"][0]["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
        caplog.clear()
        assert invoke(event) == {"batchItemFailures": []}
        assert runtime().kotae.store.count() == 0
        applied = next(r for r in caplog.records if r.getMessage() == "record applied")
        assert applied.ttl_expiry is True and applied.outcome == "deleted"


@pytest.mark.parametrize("view", ["KEYS_ONLY", "OLD_IMAGE", "NEW_IMAGE"])
def test_other_stream_view_types(env, view) -> None:
    with knowledge_table(view_type=view) as table:
        table.put(faq("a", "Alpha."))
        table.put(faq("gone", "Beta."))
        first = table.read_event()
        table.delete("gone")  # by the time the batch runs, this item no longer exists
        assert invoke(first) == {"batchItemFailures": []}
        assert invoke(table.read_event()) == {"batchItemFailures": []}
        assert index_state(runtime().kotae.store) == table_state(table)


def test_keys_only_when_the_table_cannot_be_read(env) -> None:
    with knowledge_table(view_type="KEYS_ONLY") as table:
        table.put(faq("a"))
        event = table.read_event()
        table.client.delete_table(TableName=table.name)
        result = invoke(event)
    assert result["batchItemFailures"] == [
        {"itemIdentifier": event["Records"][0]["dynamodb"]["SequenceNumber"]}
    ]


def test_a_permanently_failing_record_is_reported_and_the_rest_indexed(env, caplog) -> None:
    env.fault_rule = lambda op, body: (
        Fault(400, "ValidationException", "bad input") if "POISON" in body.get("inputText", "") else None
    )
    with knowledge_table() as table:
        for i in range(5):
            table.put(faq(f"ok-{i}"))
        table.put(faq("bad", "POISON secret text"))
        table.put(faq("ok-5"))
        event = table.read_event()
        caplog.clear()
        result = invoke(event)
        bad_seq = next(
            r["dynamodb"]["SequenceNumber"]
            for r in event["Records"]
            if r["dynamodb"]["Keys"]["item_key"]["S"] == "bad"
        )
        assert result == {"batchItemFailures": [{"itemIdentifier": bad_seq}]}
        assert sorted(runtime().kotae.store.item_keys()) == [f"ok-{i}" for i in range(6)]
        failure = next(r for r in caplog.records if r.getMessage() == "record failed")
        assert failure.sequence_number == bad_seq and failure.error == "ProviderError"
        assert "ValidationException" in failure.reason
        everything = " ".join(str(vars(r)) for r in caplog.records)
        assert "POISON secret text" not in everything  # no item content in the logs


def test_throttled_thirty_percent_of_the_time_everything_is_indexed(env, monkeypatch) -> None:
    rng = random.Random(7)
    env.fault_rule = lambda op, body: Fault(429, "ThrottlingException") if rng.random() < 0.3 else None
    with knowledge_table() as table:
        for i in range(25):
            table.put(faq(f"k{i}", f"Answer number {i}."))
        assert invoke(table.read_event()) == {"batchItemFailures": []}
        assert runtime().kotae.store.count() == 25
    assert len(env.calls("invoke")) > 25  # some calls were throttled and retried


def test_a_malformed_record_is_reported_alone(env, capsys) -> None:
    with knowledge_table() as table:
        table.put(faq("good"))
        event = table.read_event()
    event["Records"].insert(
        0, {"eventName": "INSERT", "eventSource": "aws:dynamodb", "dynamodb": {"SequenceNumber": "1"}}
    )
    event["Records"].append(
        {"eventName": "UPSERT", "dynamodb": {"Keys": {"item_key": {"S": "x"}}, "SequenceNumber": "9" * 30}}
    )
    event["Records"].append({"eventName": "INSERT"})  # no dynamodb part: nothing to report it by
    capsys.readouterr()
    result = invoke(event)
    assert result == {"batchItemFailures": [{"itemIdentifier": "1"}, {"itemIdentifier": "9" * 30}]}
    assert list(runtime().kotae.store.item_keys()) == ["good"]
    # the invocation's metrics: one applied, two reported, one skipped
    [emf] = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert (emf["IngestedRecords"], emf["FailedRecords"], emf["SkippedRecords"]) == ([1.0], [2.0], [1.0])


def test_the_same_pipeline_into_opensearch(env, monkeypatch) -> None:
    from tests.standins.opensearch import OpenSearchStandIn

    with OpenSearchStandIn() as server, knowledge_table() as table:
        # GIVEN the production store: OpenSearch behind an alias, created at cold start
        monkeypatch.setenv("KOTAE_STORE", "opensearch")
        monkeypatch.setenv("KOTAE_OPENSEARCH_ENDPOINT", server.url)
        monkeypatch.setenv("KOTAE_OPENSEARCH_AUTH", "none")
        table.put(faq("a", " ".join(f"Sentence {i} on returns." for i in range(20))))
        table.put(faq("b", "Short."))
        invoke(table.read_event())
        table.put(faq("a", "Now short."))
        table.delete("b")
        assert invoke(table.read_event()) == {"batchItemFailures": []}
        # THEN the index matches the table, chunk for chunk, and went through the alias
        store = runtime().kotae.store
        assert sorted(store.item_keys()) == ["a"]
        expected = table_state(table)["a"]
        assert [
            d.text for d in sorted(store.state("a").documents.values(), key=lambda d: d.chunk_id)
        ] == expected
        assert server.sent("/_bulk", "POST"), "writes go through the bulk API"
        assert any(r.path.startswith("/kotae-knowledge/_search") for r in server.requests)
