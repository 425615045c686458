"""What the ingest Lambda builds once per cold start: settings, store, embedder, ingestor."""

from __future__ import annotations

from functools import cache
from typing import Any

from kotae.app import Kotae
from kotae.indexing.indexer import Indexer
from kotae.indexing.streams import Fetch, PrefetchingEmbedder, StreamIngestor
from kotae.settings import load_settings


class IngestRuntime:
    """The ingestor over one Kotae's renderer, store and embedder (the embedder wrapped so a batch's
    texts are embedded ahead, concurrently). Tests pass a Kotae built with fakes or stand-ins.

    Building it bootstraps the store's index (the OpenSearch index and alias on the first
    deploy; a schema check for SQLite), once per cold start, before any record is written.
    """

    def __init__(self, kotae: Kotae, fetch: Fetch | None = None) -> None:
        self.kotae = kotae
        embedder = kotae.embedder
        if embedder is not None:
            embedder = PrefetchingEmbedder(embedder, concurrency=kotae.settings.embedding_concurrency)
        kotae.store.ensure_index()
        self.ingestor = StreamIngestor(Indexer(kotae.renderer, kotae.store, embedder), fetch)


def table_fetch(table: str, region: str | None) -> Fetch:
    """Read the current item (KEYS_ONLY / OLD_IMAGE streams), strongly consistent."""
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
    from botocore.exceptions import BotoCoreError, ClientError

    from kotae.aws import client
    from kotae.errors import StoreError

    dynamodb = client("dynamodb", region)
    serialize, deserialize = TypeSerializer().serialize, TypeDeserializer().deserialize

    def fetch(keys: dict[str, Any]) -> dict[str, Any] | None:
        try:
            found = dynamodb.get_item(
                TableName=table, Key={k: serialize(v) for k, v in keys.items()}, ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"reading the item from {table}: {exc}") from exc
        item = found.get("Item")
        return None if item is None else {k: deserialize(v) for k, v in item.items()}

    return fetch


@cache
def runtime() -> IngestRuntime:
    settings = load_settings()
    return IngestRuntime(Kotae(settings), table_fetch(settings.knowledge_table, settings.aws_region))
