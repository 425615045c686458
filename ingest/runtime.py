"""What the ingest Lambda builds once per cold start: settings, store, embedder, ingestor, and the
knowledge table it reads items from when a stream record carries no new image."""

from __future__ import annotations

from functools import cache
from typing import Any

from kotae.app import Kotae
from kotae.indexing.indexer import Indexer
from kotae.indexing.streams import PrefetchingEmbedder, StreamIngestor, TableReader
from kotae.records.keys import KeySchema, describe_key_schema
from kotae.settings import load_settings


class IngestRuntime:
    """The ingestor over one Kotae's renderer, store, embedder and item schema (the embedder
    wrapped so a batch's texts are embedded ahead, concurrently). Tests pass a Kotae built with
    fakes or stand-ins.

    Building it bootstraps the store's index (the OpenSearch index and alias on the first
    deploy; a schema check for SQLite), once per cold start, before any record is written.
    """

    def __init__(self, kotae: Kotae, table: TableReader | None = None) -> None:
        self.kotae = kotae
        embedder = kotae.embedder
        if embedder is not None:
            embedder = PrefetchingEmbedder(embedder, concurrency=kotae.settings.embedding_concurrency)
        kotae.store.ensure_index()
        indexer = Indexer(kotae.renderer, kotae.store, embedder)
        self.ingestor = StreamIngestor(indexer, table, schema=kotae.schema)


class KnowledgeTable:
    """The knowledge table read through a boto3 DynamoDB client (KEYS_ONLY / OLD_IMAGE streams).

    Its key schema is read with DescribeTable at the first record that needs the table, then
    kept for the life of the container; a failed read is tried again by the next record.
    """

    def __init__(self, client: Any, name: str) -> None:
        self.client = client
        self.name = name
        self._key_schema: KeySchema | None = None

    def key_schema(self) -> KeySchema:
        if self._key_schema is None:
            self._key_schema = describe_key_schema(self.client, self.name)
        return self._key_schema

    def get(self, keys: dict[str, Any]) -> dict[str, Any] | None:
        """The current item, strongly consistent, addressed by the record's key values."""
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
        from botocore.exceptions import BotoCoreError, ClientError

        from kotae.errors import StoreError

        serialize, deserialize = TypeSerializer().serialize, TypeDeserializer().deserialize
        try:
            found = self.client.get_item(
                TableName=self.name, Key={k: serialize(v) for k, v in keys.items()}, ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"reading the item from {self.name}: {exc}") from exc
        item = found.get("Item")
        return None if item is None else {k: deserialize(v) for k, v in item.items()}


@cache
def runtime() -> IngestRuntime:
    from kotae.aws import client

    settings = load_settings()
    table = KnowledgeTable(client("dynamodb", settings.aws_region), settings.knowledge_table)
    return IngestRuntime(Kotae(settings), table)
