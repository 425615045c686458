"""A moto DynamoDB knowledge table with a stream, read back through the DynamoDB Streams API
and shaped into the Lambda event the event source mapping would deliver."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from moto import mock_aws

REGION = "ap-northeast-1"


# A table's key as (attribute name, type, HASH | RANGE); the deployed table is keyed item_key (S).
Key = tuple[tuple[str, str, str], ...]
ITEM_KEY: Key = (("item_key", "S", "HASH"),)


@dataclass
class KnowledgeTable:
    name: str
    client: Any
    streams: Any
    stream_arn: str
    _iterators: dict[str, str] = field(default_factory=dict)

    def put(self, item: dict[str, Any]) -> None:
        serializer = boto3.dynamodb.types.TypeSerializer()
        self.client.put_item(TableName=self.name, Item={k: serializer.serialize(v) for k, v in item.items()})

    def delete(self, key: str | dict[str, Any]) -> None:
        """Delete by item_key, or by the key attribute values of any other key schema."""
        serializer = boto3.dynamodb.types.TypeSerializer()
        values = {"item_key": key} if isinstance(key, str) else key
        self.client.delete_item(
            TableName=self.name, Key={k: serializer.serialize(v) for k, v in values.items()}
        )

    def read_event(self) -> dict[str, Any]:
        """Every stream record written since the last call, as one Lambda event."""
        records = []
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            shard_id = shard["ShardId"]
            iterator = (
                self._iterators.get(shard_id)
                or self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            )
            while iterator:
                page = self.streams.get_records(ShardIterator=iterator, Limit=1000)
                records.extend(page["Records"])
                iterator = page.get("NextShardIterator")
                self._iterators[shard_id] = iterator
                if not page["Records"]:
                    break
        return {"Records": [lambda_record(r, self.stream_arn) for r in records]}


def as_lambda_json(value: Any) -> Any:
    """SDK-decoded attribute values as Lambda delivers them: binary base64-encoded, JSON only."""
    return json.loads(json.dumps(value, default=lambda b: base64.b64encode(b).decode()))


def lambda_record(record: dict[str, Any], arn: str) -> dict[str, Any]:
    """GetRecords output -> the record shape Lambda passes (epoch seconds, base64 binary,
    eventSourceARN)."""
    dynamodb = dict(record["dynamodb"])
    for image in ("Keys", "NewImage", "OldImage"):
        if image in dynamodb:
            dynamodb[image] = as_lambda_json(dynamodb[image])
    created = dynamodb.get("ApproximateCreationDateTime")
    if created is not None and hasattr(created, "timestamp"):
        dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
    out = {k: v for k, v in record.items() if k != "dynamodb"}
    out["dynamodb"] = dynamodb
    out["eventSourceARN"] = arn
    return out


def create_table(client: Any, name: str, key: Key, view_type: str | None = None) -> dict[str, Any]:
    """A pay-per-request table with this key, with a stream of ``view_type`` if one is given."""
    stream = (
        {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": view_type}} if view_type else {}
    )
    return client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": n, "KeyType": role} for n, _, role in key],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t, _ in key],
        BillingMode="PAY_PER_REQUEST",
        **stream,
    )


@contextmanager
def knowledge_table(
    view_type: str = "NEW_AND_OLD_IMAGES", name: str = "knowledge", key: Key = ITEM_KEY
) -> Iterator[KnowledgeTable]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        described = create_table(client, name, key, view_type)
        # botocore 1.44 sends Streams calls to an account-id endpoint moto does not match.
        streams = boto3.client(
            "dynamodbstreams",
            region_name=REGION,
            endpoint_url=f"https://streams.dynamodb.{REGION}.amazonaws.com",
        )
        yield KnowledgeTable(name, client, streams, described["TableDescription"]["LatestStreamArn"])
