from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from bot.dedupe import DynamoDBDedupe, SQLiteDedupe


@pytest.fixture(params=["sqlite", "dynamodb"])
def dedupe(request, tmp_path):
    if request.param == "sqlite":
        yield SQLiteDedupe(tmp_path / "dedupe.sqlite3")
        return
    with mock_aws():
        client = boto3.client("dynamodb", region_name="ap-northeast-1")
        client.create_table(
            TableName="dedupe",
            KeySchema=[{"AttributeName": "event_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "event_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield DynamoDBDedupe(client, "dedupe")


def test_first_claim_wins_and_release_lets_a_retry_claim(dedupe) -> None:
    assert dedupe.claim("Ev1") is True
    assert dedupe.claim("Ev1") is False  # duplicate delivery or Slack retry
    dedupe.release("Ev1")  # the first attempt failed
    assert dedupe.claim("Ev1") is True


def test_markers_are_remembered_until_they_expire(dedupe) -> None:
    assert dedupe.known("thread:C1:1.0") is False
    dedupe.remember("thread:C1:1.0", 60)
    assert dedupe.known("thread:C1:1.0") is True
    dedupe.remember("thread:C1:2.0", -1)  # already expired
    assert dedupe.known("thread:C1:2.0") is False


def test_an_expired_claim_can_be_claimed_again(dedupe) -> None:
    dedupe.remember("Ev2", -1)
    assert dedupe.claim("Ev2") is True
