"""One new item into the knowledge table (moto) or the embedded store; never over an old one."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from kotae.app import Kotae
from kotae.errors import ConfigError, StoreError
from kotae.indexing.knowledge_writer import ItemExists, StoreWriter, TableWriter, writer_for
from kotae.records.schema import DEFAULT_SCHEMA, ItemSchema, KindSpec
from kotae.settings import load_settings
from tests.standins.streams import REGION, create_table, knowledge_table

FIELDS = {"question": "Who won?", "answer": "Kestrel.", "scopes": ["public"], "tags": []}


def test_a_new_item_is_put_and_a_second_is_refused() -> None:
    with knowledge_table() as table:
        writer = TableWriter(table.client, table.name, DEFAULT_SCHEMA)
        item = writer.add("faq-slack-1", "faq", FIELDS)
        assert (item.key, item.kind, item.attributes["question"]) == ("faq-slack-1", "faq", "Who won?")
        with pytest.raises(ItemExists):
            writer.add("faq-slack-1", "faq", {**FIELDS, "answer": "Someone else."})
        [row] = table.client.scan(TableName=table.name)["Items"]
        assert row["answer"] == {"S": "Kestrel."} and row["kind"] == {"S": "faq"}


def test_the_teams_attribute_names_are_written() -> None:
    schema = ItemSchema(kind_attribute="Type", kinds={"faq": KindSpec(fields={"question": "Q"})})
    with knowledge_table() as table:
        item = TableWriter(table.client, table.name, schema).add("k1", "faq", FIELDS)
        [row] = table.client.scan(TableName=table.name)["Items"]
        assert row["Type"] == {"S": "faq"} and row["Q"] == {"S": "Who won?"} and "question" not in row
        assert item.attributes["question"] == "Who won?"


@pytest.mark.parametrize(
    "key",
    [
        pytest.param((("Id", "N", "HASH"),), id="a-number"),
        pytest.param((("pk", "S", "HASH"), ("sk", "S", "RANGE")), id="two-attributes"),
    ],
)
def test_a_table_not_keyed_by_one_string_is_a_config_error_naming_it(key) -> None:
    with knowledge_table(name="other"):
        client = boto3.client("dynamodb", region_name=REGION)
        create_table(client, "keyed", key)
        with pytest.raises(ConfigError, match="KOTAE_KNOWLEDGE_TABLE=keyed is keyed .*one string"):
            TableWriter(client, "keyed", DEFAULT_SCHEMA).add("k1", "faq", FIELDS)


class Refusing:
    """A DynamoDB client whose table exists but whose writes fail."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def describe_table(self, TableName: str) -> dict:
        return {
            "Table": {
                "KeySchema": [{"AttributeName": "item_key", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "item_key", "AttributeType": "S"}],
            }
        }

    def put_item(self, **kwargs) -> None:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(EndpointConnectionError(endpoint_url="https://dynamodb"), id="unreachable"),
        pytest.param(ClientError({"Error": {"Code": "ValidationException"}}, "PutItem"), id="refused"),
    ],
)
def test_a_failed_put_is_a_store_error(error) -> None:
    with pytest.raises(StoreError, match="writing item k1 to table knowledge"):
        TableWriter(Refusing(error), "knowledge", DEFAULT_SCHEMA).add("k1", "faq", FIELDS)


def test_on_one_machine_the_item_is_indexed_at_once_and_only_once(make_kotae, store) -> None:
    kotae = make_kotae()
    writer = writer_for(kotae)
    assert isinstance(writer, StoreWriter)
    writer.add("faq-slack-1", "faq", FIELDS)
    [document] = store.documents("faq-slack-1")
    assert document.title == "Who won?" and "Kestrel." in document.text
    with pytest.raises(ItemExists):
        writer.add("faq-slack-1", "faq", FIELDS)


def test_in_aws_the_item_goes_to_the_knowledge_table() -> None:
    settings = load_settings(
        store="opensearch", opensearch_endpoint="https://search.example", aws_region=REGION
    )
    writer = writer_for(Kotae(settings))
    assert isinstance(writer, TableWriter) and writer.table == settings.knowledge_table
