"""StreamIngestor plans each record once: prefetch reads each item's state, apply reuses the plan
unless an earlier record of the batch has written that item since."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from boto3.dynamodb.types import TypeSerializer

from kotae.errors import StoreError
from kotae.indexing.indexer import Indexer
from kotae.indexing.render import DocumentRenderer
from kotae.indexing.streams import InvalidRecord, PrefetchingEmbedder, StreamIngestor
from tests.conftest import PROMPTS
from tests.fakes import CountingStore, FakeEmbedder

SERIALIZE = TypeSerializer().serialize


def record(event: str, key: str, sequence: int, answer: str = "Use GlobalProtect.") -> dict[str, Any]:
    """A Lambda stream record (NEW_AND_OLD_IMAGES) for a FAQ item."""
    dynamodb: dict[str, Any] = {
        "Keys": {"item_key": {"S": key}},
        "SequenceNumber": str(10**20 + sequence),
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if event != "REMOVE":
        item = {"item_key": key, "kind": "faq", "question": f"Question {key}?", "answer": answer}
        dynamodb["NewImage"] = {name: SERIALIZE(value) for name, value in item.items()}
    return {"eventName": event, "eventSource": "aws:dynamodb", "dynamodb": dynamodb}


class FlakyStore(CountingStore):
    """Fails the first ``failures`` state reads, as an unavailable index would."""

    def __init__(self, inner: object, failures: int) -> None:
        super().__init__(inner)
        self.failures = failures

    def state(self, item_key: str) -> object:
        if self.failures:
            self.failures -= 1
            self.state_reads[item_key] = self.state_reads.get(item_key, 0) + 1
            raise StoreError("index unavailable")
        return super().state(item_key)


@pytest.fixture
def counting(store) -> CountingStore:
    return CountingStore(store)


def ingestor_for(store: object, embedder: FakeEmbedder) -> StreamIngestor:
    renderer = DocumentRenderer(PROMPTS, chunk_chars=200, chunk_overlap=20)
    return StreamIngestor(Indexer(renderer, store, PrefetchingEmbedder(embedder)))  # type: ignore[arg-type]


def run(ingestor: StreamIngestor, batch: list[dict[str, Any]], applied: list | None = None) -> list[str]:
    """As the Lambda does: prefetch the batch, then apply each record (new wrappers, same dicts);
    each record's outcome, or the name of the error it failed with."""
    ingestor.prefetch([DynamoDBRecord(r) for r in batch])
    outcomes = []
    for raw in applied if applied is not None else batch:
        try:
            outcomes.append(ingestor.apply(DynamoDBRecord(raw))[1].outcome)
        except Exception as exc:
            outcomes.append(type(exc).__name__)
    return outcomes


def test_each_record_reads_its_items_state_once(counting, embedder) -> None:
    # GIVEN a batch of five inserts of different items
    ingestor = ingestor_for(counting, embedder)
    batch = [record("INSERT", f"k{i}", i) for i in range(5)]
    # WHEN it is applied, and then delivered again
    first = run(ingestor, batch)
    calls = len(embedder.calls)
    replay = run(ingestor, batch)
    # THEN each delivery read each item's state once, and the replay changed nothing
    assert first == ["indexed"] * 5 and replay == ["unchanged"] * 5
    assert counting.state_reads == {f"k{i}": 2 for i in range(5)}
    assert len(embedder.calls) == calls == 5


def test_a_key_written_earlier_in_the_batch_is_planned_again(counting, embedder, store) -> None:
    # GIVEN a batch that changes one item twice and another once
    ingestor = ingestor_for(counting, embedder)
    batch = [
        record("INSERT", "a", 1, "First."),
        record("MODIFY", "a", 2, "Second."),
        record("INSERT", "b", 3),
    ]
    # WHEN it is applied
    outcomes = run(ingestor, batch)
    # THEN the second change of "a" was planned against what the first wrote: one read per record
    assert outcomes == ["indexed", "indexed", "indexed"]
    assert "Second." in store.documents("a")[0].text
    assert counting.state_reads == {"a": 2, "b": 1}


def test_an_older_record_later_in_the_batch_still_loses(counting, embedder, store) -> None:
    ingestor = ingestor_for(counting, embedder)
    batch = [record("MODIFY", "a", 20, "Newer."), record("MODIFY", "a", 10, "Older.")]
    assert run(ingestor, batch) == ["indexed", "stale"]
    assert "Newer." in store.documents("a")[0].text


def test_a_replayed_insert_after_a_remove_in_the_same_batch_is_refused(counting, embedder, store) -> None:
    # GIVEN an insert, its removal, and the insert again (same sequence number: not told apart)
    ingestor = ingestor_for(counting, embedder)
    insert = record("INSERT", "a", 1)
    batch = [insert, record("REMOVE", "a", 2), copy.deepcopy(insert)]
    # WHEN applied THEN the removal stands
    assert run(ingestor, batch) == ["indexed", "deleted", "stale"]
    assert list(store.item_keys()) == []


def test_a_copy_of_the_record_reuses_its_plan_but_another_record_does_not(counting, embedder, store) -> None:
    # GIVEN prefetch saw two records; apply receives a copy of the first and a changed second
    ingestor = ingestor_for(counting, embedder)
    batch = [record("INSERT", "a", 1), record("INSERT", "b", 2, "Prefetched.")]
    changed = record("INSERT", "b", 2, "Changed.")
    # WHEN applied
    outcomes = run(ingestor, batch, applied=[copy.deepcopy(batch[0]), changed])
    # THEN the copy used its plan (one read) and the changed record was parsed and planned anew
    assert outcomes == ["indexed", "indexed"]
    assert counting.state_reads == {"a": 1, "b": 2}
    assert "Changed." in store.documents("b")[0].text


def test_a_record_that_could_not_be_planned_in_prefetch_is_planned_in_apply(store, embedder) -> None:
    # GIVEN the index fails the first state read (prefetch's), then recovers
    flaky = FlakyStore(store, failures=1)
    ingestor = ingestor_for(flaky, embedder)
    # WHEN the batch runs THEN apply plans the record itself and indexes it
    assert run(ingestor, [record("INSERT", "a", 1)]) == ["indexed"]
    assert flaky.state_reads == {"a": 2} and store.state("a") is not None


def test_a_record_that_cannot_be_parsed_fails_alone_in_apply(counting, embedder) -> None:
    ingestor = ingestor_for(counting, embedder)
    bad = {"eventName": "UPSERT", "dynamodb": {"Keys": {"item_key": {"S": "x"}}, "SequenceNumber": "7"}}
    ingestor.prefetch([DynamoDBRecord(bad), DynamoDBRecord(record("INSERT", "a", 1))])
    with pytest.raises(InvalidRecord, match="unknown event name"):
        ingestor.apply(DynamoDBRecord(bad))
    assert counting.state_reads == {"a": 1}
