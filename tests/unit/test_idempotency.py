"""Powertools idempotency on both persistence layers (SQLite here, DynamoDB through moto):
one answer per event id, a failed attempt leaves no record, and thread markers expire."""

from __future__ import annotations

import time
from dataclasses import dataclass

import boto3
import pytest
from aws_lambda_powertools.utilities.idempotency import idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from moto import mock_aws

from bot.idempotency import SQLitePersistenceLayer, idempotency_config, stores_for
from kotae.settings import Settings


@dataclass(frozen=True)
class Delivery:
    event_id: str
    text: str = "VPN?"


@pytest.fixture(params=["sqlite", "dynamodb"])
def stores(request, tmp_path, monkeypatch):
    if request.param == "sqlite":
        yield stores_for(Settings(data_dir=tmp_path))
        return
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-northeast-1")
    with mock_aws():
        client = boto3.client("dynamodb", region_name="ap-northeast-1")
        client.create_table(  # the table infra/ deploys: Powertools' key and TTL attributes
            TableName="kotae-idempotency",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        import kotae.aws

        kotae.aws.client.cache_clear()
        yield stores_for(
            Settings(data_dir=tmp_path, dedupe_table="kotae-idempotency", aws_region="ap-northeast-1")
        )
        kotae.aws.client.cache_clear()


def guarded(persistence, calls: list[str], *, fail: bool = False, reenter=None):
    def answer(delivery: Delivery) -> dict[str, str]:
        calls.append(delivery.event_id)
        if reenter:
            reenter()
        if fail:
            raise RuntimeError("bedrock down")
        return {"answer_id": f"a-{len(calls)}"}

    return idempotent_function(
        data_keyword_argument="delivery", persistence_store=persistence, config=idempotency_config()
    )(answer)


def test_a_duplicate_delivery_is_not_answered_again(stores) -> None:
    # GIVEN an answered event
    persistence, _ = stores
    calls: list[str] = []
    first = guarded(persistence, calls)(delivery=Delivery("Ev1"))
    # WHEN Slack delivers it again (a retry carries the same event id)
    again = guarded(persistence, calls)(delivery=Delivery("Ev1", text="VPN? (retry)"))
    # THEN the function ran once and the stored result came back
    assert calls == ["Ev1"]
    assert again == first == {"answer_id": "a-1"}


def test_a_failed_attempt_leaves_no_record_so_the_retry_is_answered(stores) -> None:
    persistence, _ = stores
    calls: list[str] = []
    with pytest.raises(RuntimeError):
        guarded(persistence, calls, fail=True)(delivery=Delivery("Ev2"))
    assert guarded(persistence, calls)(delivery=Delivery("Ev2")) == {"answer_id": "a-2"}
    assert calls == ["Ev2", "Ev2"]


def test_a_delivery_while_the_first_is_still_answering_is_refused(stores) -> None:
    persistence, _ = stores
    calls: list[str] = []
    inner = guarded(persistence, [])

    def deliver_again() -> None:
        with pytest.raises(IdempotencyAlreadyInProgressError):
            inner(delivery=Delivery("Ev3"))

    guarded(persistence, calls, reenter=deliver_again)(delivery=Delivery("Ev3"))
    assert calls == ["Ev3"]


def test_other_events_are_independent(stores) -> None:
    persistence, _ = stores
    calls: list[str] = []
    for event_id in ("EvA", "EvB", "EvA"):
        guarded(persistence, calls)(delivery=Delivery(event_id))
    assert calls == ["EvA", "EvB"]


def test_thread_markers_are_remembered_until_they_expire(stores) -> None:
    _, threads = stores
    assert threads.known("thread:C1:1.0") is False
    threads.remember("thread:C1:1.0", 60)
    assert threads.known("thread:C1:1.0") is True
    threads.remember("thread:C1:2.0", -1)  # already expired, TTL not yet swept
    assert threads.known("thread:C1:2.0") is False


def record(key: str, status: str, *, expiry: float, in_progress: float | None = None) -> DataRecord:
    return DataRecord(
        idempotency_key=key,
        status=status,
        expiry_timestamp=int(expiry),
        in_progress_expiry_timestamp=None if in_progress is None else int(in_progress),
        response_data='{"answer_id": "a"}',
    )


@pytest.mark.parametrize(
    ("old", "replaceable"),
    [
        pytest.param(dict(status="COMPLETED", expiry=+60), False, id="completed-live"),
        pytest.param(dict(status="COMPLETED", expiry=-60), True, id="completed-expired"),
        pytest.param(dict(status="INPROGRESS", expiry=+60, in_progress=+60_000), False, id="inprogress-live"),
        pytest.param(dict(status="INPROGRESS", expiry=+60, in_progress=-60_000), True, id="inprogress-stuck"),
        pytest.param(dict(status="INPROGRESS", expiry=+60), False, id="inprogress-no-context"),
    ],
)
def test_sqlite_put_follows_the_dynamodb_condition(tmp_path, old, replaceable) -> None:
    # GIVEN a stored record in the given state (offsets are relative to now; in-progress in ms)
    layer = SQLitePersistenceLayer(tmp_path / "i.sqlite3")
    now = time.time()
    stored = record(
        "k",
        old["status"],
        expiry=now + old["expiry"],
        in_progress=None if "in_progress" not in old else now * 1000 + old["in_progress"],
    )
    layer._put_record(stored)
    # WHEN a new attempt puts an INPROGRESS record under the same key
    attempt = record("k", "INPROGRESS", expiry=now + 3600)
    if replaceable:
        layer._put_record(attempt)
        assert layer._get_record("k").status == "INPROGRESS"
    else:
        with pytest.raises(IdempotencyItemAlreadyExistsError) as raised:
            layer._put_record(attempt)
        # THEN Powertools gets the stored record back to decide what to return
        assert raised.value.old_data_record.idempotency_key == "k"


def test_a_crashed_attempt_stops_blocking_once_its_budget_is_spent(stores, monkeypatch) -> None:
    # GIVEN an attempt that never finished (its process died) and no Lambda context: the local budget
    persistence, _ = stores
    calls: list[str] = []
    monkeypatch.setattr("bot.idempotency.LOCAL_ANSWER_BUDGET_MS", -1000)

    def crash() -> None:
        raise SystemExit  # not an Exception: Powertools keeps the INPROGRESS record, as after a crash

    with pytest.raises(SystemExit):
        guarded(persistence, calls, reenter=crash)(delivery=Delivery("Ev4"))
    # WHEN Slack retries after the budget ran out
    assert guarded(persistence, calls)(delivery=Delivery("Ev4")) == {"answer_id": "a-2"}
    # THEN the retry is answered
    assert calls == ["Ev4", "Ev4"]


def test_sqlite_get_of_a_missing_key_raises_not_found(tmp_path) -> None:
    layer = SQLitePersistenceLayer(tmp_path / "i.sqlite3")
    with pytest.raises(IdempotencyItemNotFoundError):
        layer._get_record("nope")
