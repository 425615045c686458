"""One new knowledge item written where the knowledge lives.

In AWS the knowledge table is the source of truth: the item is put there and the table's stream
brings it to the ingest Lambda, which indexes it like any other change. On one machine there is
no table: the item goes straight into the embedded store through the indexer. Either way the
item is new: one that already exists under the key is refused (``ItemExists``), never
overwritten, because a saved item is edited where the knowledge is kept, not by saving again.

Fields are given by the kind's field names (``question``, ``answer``…); they are written under
the team's attribute names when the item schema maps the kind's fields (KOTAE_SCHEMA_FILE), and
the kind under the schema's kind attribute, so the item reads back as it was meant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from kotae.errors import ConfigError, InputError, StoreError
from kotae.models import Item
from kotae.records.keys import KeySchema, describe_key_schema
from kotae.records.schema import ItemSchema

if TYPE_CHECKING:
    from kotae.app import Kotae
    from kotae.indexing.indexer import Indexer

LOCAL_KEY = "item_key"  # the key attribute of items that name no table (kotae.models.KEY_FIELDS)


class ItemExists(InputError):
    """An item with this key is already in the knowledge."""


class KnowledgeWriter(Protocol):
    def add(self, key: str, kind: str, fields: dict[str, Any]) -> Item:
        """Write a new item; ItemExists if the key is taken, StoreError if the write fails."""
        ...


def table_attributes(schema: ItemSchema, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The fields under the team's attribute names, with the kind under the kind attribute."""
    spec = schema.kinds.get(kind)
    names = spec.fields if spec is not None else {}
    return {schema.kind_attribute: kind, **{names.get(name, name): value for name, value in fields.items()}}


class TableWriter:
    """PutItem into the knowledge table, on the condition that the key is not there yet.

    The table must be keyed by one string attribute: a saved item's key is a string kotae makes
    up, and a table keyed otherwise (a number, or a partition and a sort key) has no attribute
    to put it in. The key schema is read once with DescribeTable."""

    def __init__(self, client: Any, table: str, schema: ItemSchema) -> None:
        self.client, self.table, self.schema = client, table, schema
        self._key_schema: KeySchema | None = None

    def key_attribute(self) -> str:
        if self._key_schema is None:
            self._key_schema = describe_key_schema(self.client, self.table)
        attributes = self._key_schema.attributes
        if len(attributes) != 1 or attributes[0].type != "S":
            raise ConfigError(
                f"KOTAE_KNOWLEDGE_TABLE={self.table} is keyed {self._key_schema}; saving items from "
                "Slack needs a table keyed by one string (S) attribute"
            )
        return attributes[0].name

    def add(self, key: str, kind: str, fields: dict[str, Any]) -> Item:
        from boto3.dynamodb.types import TypeSerializer
        from botocore.exceptions import BotoCoreError, ClientError

        name = self.key_attribute()
        raw = {name: key, **table_attributes(self.schema, kind, fields)}
        item = Item.from_mapping(raw, key_schema=self._key_schema, schema=self.schema)
        serialize = TypeSerializer().serialize
        try:
            self.client.put_item(
                TableName=self.table,
                Item={k: serialize(v) for k, v in raw.items()},
                ConditionExpression="attribute_not_exists(#key)",
                ExpressionAttributeNames={"#key": name},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise ItemExists(f"the knowledge already has an item {key}") from exc
            raise StoreError(f"writing item {key} to table {self.table}: {exc}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"writing item {key} to table {self.table}: {exc}") from exc
        return item


class StoreWriter:
    """The item indexed into the embedded store at once (one machine: no table, no stream)."""

    def __init__(self, indexer: Indexer, schema: ItemSchema) -> None:
        self.indexer, self.schema = indexer, schema

    def add(self, key: str, kind: str, fields: dict[str, Any]) -> Item:
        state = self.indexer.store.state(key)
        if state is not None and not state.deleted:
            raise ItemExists(f"the knowledge already has an item {key}")
        item = Item.from_mapping(
            {LOCAL_KEY: key, **table_attributes(self.schema, kind, fields)}, schema=self.schema
        )
        self.indexer.index(item)
        return item


def writer_for(kotae: Kotae) -> KnowledgeWriter:
    """The knowledge table when the index is OpenSearch (kotae in AWS), else the embedded store."""
    settings = kotae.settings
    if settings.store == "opensearch":
        from kotae.aws import client

        return TableWriter(client("dynamodb", settings.aws_region), settings.knowledge_table, kotae.schema)
    return StoreWriter(kotae.indexer, kotae.schema)
