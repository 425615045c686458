"""IngestRuntime over an injected Kotae: the store's index is bootstrapped once, through the
IndexBootstrap protocol, and records are written through the injected providers."""

from __future__ import annotations

from decimal import Decimal

import pytest
from opensearchpy import OpenSearch, RequestsHttpConnection

from ingest.runtime import IngestRuntime, KnowledgeTable
from kotae.app import Kotae
from kotae.errors import StoreError
from kotae.indexing.streams import PrefetchingEmbedder
from kotae.providers.opensearch_store import OpenSearchStore
from kotae.providers.sqlite_store import SQLiteStore
from kotae.records.keys import KeyAttribute, KeySchema
from kotae.settings import load_settings
from tests.conftest import PROMPTS
from tests.fakes import FakeEmbedder
from tests.standins.opensearch import OpenSearchStandIn
from tests.standins.streams import knowledge_table


def insert(key: str, answer: str, sequence: str) -> dict:
    """A NEW_AND_OLD_IMAGES INSERT record as Lambda delivers it."""
    image = {
        "item_key": {"S": key},
        "kind": {"S": "faq"},
        "question": {"S": f"Question {key}?"},
        "answer": {"S": answer},
    }
    return {
        "eventName": "INSERT",
        "dynamodb": {"SequenceNumber": sequence, "Keys": {"item_key": {"S": key}}, "NewImage": image},
    }


class GoneTable:
    """A knowledge table keyed item_key (S) that holds nothing."""

    name = "knowledge"

    def key_schema(self) -> KeySchema:
        return KeySchema.of(("item_key", "S"))

    def get(self, keys: dict) -> None:
        return None


def test_runtime_bootstraps_a_fresh_opensearch_index_and_writes_through_it() -> None:
    with OpenSearchStandIn() as server:
        # GIVEN a Kotae with an OpenSearch store on an empty cluster and a fake embedder
        client = OpenSearch(hosts=[server.url], connection_class=RequestsHttpConnection, max_retries=0)
        store = OpenSearchStore(client, "kotae-ingest", 64, refresh=True)
        embedder = FakeEmbedder(64)
        kotae = Kotae(load_settings(prompts_dir=PROMPTS), store=store, embedder=embedder)
        # WHEN the runtime is built (a cold start)
        runtime = IngestRuntime(kotae)
        # THEN the index and its alias exist before any record, and the embedder is prefetching
        assert server.aliases == {"kotae-ingest": {"kotae-ingest-v1"}}
        assert isinstance(runtime.ingestor.indexer.embedder, PrefetchingEmbedder)
        assert runtime.ingestor.indexer.store is store and runtime.ingestor.table is None
        # AND a record goes to the injected store with a vector from the injected embedder
        change, result = runtime.ingestor.apply(insert("a", "Use GlobalProtect.", "100"))
        assert (change.key, result.outcome) == ("a", "indexed")
        assert embedder.texts_embedded == 1 and store.count() == 1
        # AND a second cold start on the same cluster creates nothing
        IngestRuntime(Kotae(load_settings(prompts_dir=PROMPTS), store=store, embedder=embedder))
        assert len(server.sent("/kotae-ingest-v1", "PUT")) == 1


def test_runtime_over_the_embedded_store_checks_the_file(tmp_path) -> None:
    # GIVEN a store file holding 3-dimension vectors, opened for an embedder of 3 (no embedder here)
    store = SQLiteStore(tmp_path / "s.sqlite3", dimensions=3)
    kotae = Kotae(load_settings(prompts_dir=PROMPTS, embedder="none"), store=store)
    # WHEN the runtime is built THEN the schema check passes and records are written lexically
    runtime = IngestRuntime(kotae, table=GoneTable())
    assert runtime.ingestor.indexer.embedder is None
    _, result = runtime.ingestor.apply(insert("b", "Printers are on floor 3.", "7"))
    assert result.outcome == "indexed" and list(store.item_keys()) == ["b"]
    assert store.state("b").version == "7"  # type: ignore[union-attr]


class CountingClient:
    """A boto3 DynamoDB client that counts DescribeTable calls and can fail the first ones."""

    def __init__(self, inner, failures: int = 0) -> None:
        self.inner, self.failures, self.describes = inner, failures, 0

    def describe_table(self, **kwargs):
        from botocore.exceptions import ClientError

        self.describes += 1
        if self.failures:
            self.failures -= 1
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "DescribeTable"
            )
        return self.inner.describe_table(**kwargs)

    def get_item(self, **kwargs):
        return self.inner.get_item(**kwargs)


def test_the_knowledge_table_reads_its_key_schema_once_and_items_by_their_keys() -> None:
    key = (("ExecutionId", "S", "HASH"), ("RecordId", "N", "RANGE"))
    with knowledge_table(view_type="KEYS_ONLY", key=key) as moto:
        moto.put({"ExecutionId": "ex-1", "RecordId": Decimal(7), "State": "failed"})
        # GIVEN DescribeTable is throttled once
        client = CountingClient(moto.client, failures=1)
        table = KnowledgeTable(client, "knowledge")
        # WHEN the key schema is needed THEN the failure is a StoreError, and the next record tries again
        with pytest.raises(StoreError, match="cannot read the key schema of table knowledge: .*Throttling"):
            table.key_schema()
        expected = KeySchema(
            (KeyAttribute("ExecutionId", "S", "partition"), KeyAttribute("RecordId", "N", "sort"))
        )
        assert table.key_schema() == expected and table.key_schema() == expected
        assert client.describes == 2  # once failed, once read, then kept
        # AND items are read by their key values, numbers as the stream gives them
        assert table.get({"ExecutionId": "ex-1", "RecordId": Decimal("7.0")}) == {
            "ExecutionId": "ex-1",
            "RecordId": Decimal(7),
            "State": "failed",
        }
        assert table.get({"ExecutionId": "ex-1", "RecordId": Decimal(8)}) is None
        with pytest.raises(StoreError, match="reading the item from nope"):
            KnowledgeTable(moto.client, "nope").get({"ExecutionId": "ex-1", "RecordId": Decimal(7)})
