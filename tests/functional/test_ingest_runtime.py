"""IngestRuntime over an injected Kotae: the store's index is bootstrapped once, through the
IndexBootstrap protocol, and records are written through the injected providers."""

from __future__ import annotations

from opensearchpy import OpenSearch, RequestsHttpConnection

from ingest.runtime import IngestRuntime
from kotae.app import Kotae
from kotae.indexing.streams import PrefetchingEmbedder
from kotae.providers.opensearch_store import OpenSearchStore
from kotae.providers.sqlite_store import SQLiteStore
from kotae.settings import load_settings
from tests.conftest import PROMPTS
from tests.fakes import FakeEmbedder
from tests.standins.opensearch import OpenSearchStandIn


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
        assert runtime.ingestor.indexer.store is store and runtime.ingestor.fetch is None
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
    runtime = IngestRuntime(kotae, fetch=lambda keys: None)
    assert runtime.ingestor.indexer.embedder is None
    _, result = runtime.ingestor.apply(insert("b", "Printers are on floor 3.", "7"))
    assert result.outcome == "indexed" and list(store.item_keys()) == ["b"]
    assert store.state("b").version == "7"  # type: ignore[union-attr]
