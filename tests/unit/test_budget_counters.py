"""The budget rule on both counter stores, SQLite and DynamoDB (moto), with the same cases:
admission up to the limit, all-or-nothing claims, token totals, windows, admins, the race of
twenty questions for five places, and each way a store can fail."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from moto import mock_aws

from kotae.ops.budgets import Asker, Budgets, BudgetUnavailable, Claim, QuestionLimit, Refusal, SubjectLimits
from kotae.ops.budgets.base import BudgetPolicy
from kotae.ops.budgets.dynamodb import CONFLICT_RETRIES, DynamoDBCounters
from kotae.ops.budgets.sqlite import SQLiteCounters

TABLE = "kotae-budgets"
NOW = 1_800_057_600.0  # 2027-01-16 00:00 UTC: a whole number of days since the epoch
ASKER = Asker(team_id="T1", channel_id="C1", user_id="U1")


def per_hour(count: int) -> SubjectLimits:
    return SubjectLimits(questions=QuestionLimit(count=count, window_seconds=3600))


def create_table(client) -> None:
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


class OneRequestAtATime:
    """A moto client whose requests are each atomic, as DynamoDB's are. moto applies the items of
    a transaction without a lock, so two threads could pass the same condition there; DynamoDB
    never lets them. This adds that one property and nothing else: code that read a counter and
    wrote it in two requests would still lose the race."""

    def __init__(self, client) -> None:
        self._client, self._lock = client, threading.Lock()

    def __getattr__(self, name: str):
        method = getattr(self._client, name)

        def call(*args, **kwargs):
            with self._lock:
                return method(*args, **kwargs)

        return call


def dynamodb_client() -> OneRequestAtATime:
    client = boto3.client("dynamodb", region_name="ap-northeast-1")
    create_table(client)
    return OneRequestAtATime(client)


@pytest.fixture(params=["sqlite", "dynamodb"])
def counters(request, tmp_path: Path) -> Iterator:
    """Each store, empty."""
    if request.param == "sqlite":
        yield SQLiteCounters(tmp_path / "budgets.sqlite3")
        return
    with mock_aws():
        yield DynamoDBCounters(dynamodb_client(), TABLE, pause=lambda _: None)


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def budgets(counters, clock: Clock | None = None, **policy) -> Budgets:
    return Budgets(BudgetPolicy(**policy), counters, clock or Clock())


def test_questions_are_admitted_up_to_the_limit_then_refused_until_the_window_ends(counters) -> None:
    clock = Clock(NOW + 600)  # ten minutes into the hour
    rule = budgets(counters, clock, user=per_hour(3))
    assert [rule.admit(ASKER) for _ in range(3)] == [None, None, None]
    assert rule.admit(ASKER) == Refusal("user", "questions", int(NOW) + 3600)
    assert rule.admit(ASKER).wait_seconds(clock()) == 3000
    # another person is counted apart; the next hour starts afresh
    assert rule.admit(Asker("T1", "C1", "U2")) is None
    clock.now = NOW + 3600
    assert rule.admit(ASKER) is None


def test_a_question_refused_by_one_limit_uses_none_of_the_others(counters) -> None:
    # GIVEN a channel limit of 2 and a generous user limit
    rule = budgets(counters, user=per_hour(10), channel=per_hour(2))
    assert rule.admit(ASKER) is None and rule.admit(Asker("T1", "C1", "U2")) is None
    # WHEN U1 asks again in the full channel, three times
    refusals = [rule.admit(ASKER) for _ in range(3)]
    # THEN each is the channel's refusal, and U1 has used only the one place it had
    assert {r.subject for r in refusals} == {"channel"}
    user_only = budgets(counters, user=per_hour(10))  # the same counters, without the channel limit
    assert [user_only.admit(ASKER) for _ in range(9)] == [None] * 9
    assert user_only.admit(ASKER).subject == "user"


def test_the_refusal_names_the_limit_that_frees_up_last(counters) -> None:
    rule = budgets(
        counters,
        user=per_hour(1),
        workspace=SubjectLimits(questions=QuestionLimit(count=1, window_seconds=86_400)),
    )
    assert rule.admit(ASKER) is None
    assert rule.admit(ASKER) == Refusal("workspace", "questions", int(NOW) + 86_400)


def test_tokens_per_day_are_checked_before_and_added_after(counters) -> None:
    # GIVEN a channel allowed 1,000 tokens a day
    rule = budgets(counters, channel=SubjectLimits(tokens_per_day=1000))
    # WHEN answers use 600 and then 500 tokens (the second goes over: it was admitted below the limit)
    assert rule.admit(ASKER) is None
    rule.spend(ASKER, 600)
    assert rule.admit(ASKER) is None
    rule.spend(ASKER, 500)
    # THEN the next question is refused until the UTC day ends, and other channels are not
    assert rule.admit(ASKER) == Refusal("channel", "tokens", int(NOW) + 86_400)
    assert rule.admit(Asker("T1", "C2", "U1")) is None


def test_spending_without_a_token_limit_or_tokens_writes_nothing(counters) -> None:
    class Untouchable:
        def add(self, *args) -> None:
            raise AssertionError("no counter should be written")

    rule = budgets(Untouchable(), user=per_hour(1))
    rule.spend(ASKER, 500)
    budgets(Untouchable(), user=SubjectLimits(tokens_per_day=5)).spend(ASKER, 0)


def test_admins_are_neither_limited_nor_counted(counters) -> None:
    rule = budgets(counters, workspace=per_hour(2), admins=frozenset({"UADMIN"}))
    admin = Asker("T1", "C1", "UADMIN")
    assert [rule.admit(admin) for _ in range(5)] == [None] * 5
    assert rule.admit(ASKER) is None and rule.admit(ASKER) is None and rule.admit(ASKER) is not None


def test_no_limit_reads_no_counter_and_unknown_subjects_are_skipped() -> None:
    class Unreachable:
        def take(self, claims):
            raise BudgetUnavailable("down")

    assert budgets(Unreachable()).admit(ASKER) is None
    # a question with no user id (none in the event) is limited by channel and workspace only
    rule = budgets(Unreachable(), user=per_hour(1))
    assert rule.admit(Asker("T1", "C1", None)) is None


@pytest.mark.parametrize("store", ["sqlite", "dynamodb"])
def test_twenty_concurrent_questions_against_a_limit_of_five_give_exactly_five(store, tmp_path) -> None:
    def race(counters) -> list[Refusal | None]:
        rule = budgets(counters, user=per_hour(5))
        start = threading.Barrier(20)
        results: list[Refusal | None] = []

        def ask() -> None:
            start.wait()
            results.append(rule.admit(ASKER))

        threads = [threading.Thread(target=ask) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        return results

    if store == "sqlite":
        results = race(SQLiteCounters(tmp_path / "budgets.sqlite3"))
    else:
        with mock_aws():
            results = race(DynamoDBCounters(dynamodb_client(), TABLE))
    assert len(results) == 20 and results.count(None) == 5


# --- failing stores: fail closed ---------------------------------------------------------------


def test_a_locked_sqlite_file_is_unavailable_not_a_free_pass(tmp_path) -> None:
    path = tmp_path / "budgets.sqlite3"
    counters = SQLiteCounters(path, timeout=0.05)
    holder = sqlite3.connect(str(path), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        with pytest.raises(BudgetUnavailable, match="locked"):
            budgets(counters, user=per_hour(5)).admit(ASKER)
        with pytest.raises(BudgetUnavailable):
            counters.add("k", 1, int(NOW))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert budgets(counters, user=per_hour(5)).admit(ASKER) is None  # nothing was half-written


def test_a_sqlite_file_that_cannot_be_opened_is_unavailable(tmp_path) -> None:
    counters = SQLiteCounters(tmp_path / "budgets.sqlite3")
    counters.path = tmp_path  # a directory: SQLite cannot open it
    with pytest.raises(BudgetUnavailable, match="cannot be opened"):
        counters.add("k", 1, int(NOW))


def test_a_missing_dynamodb_table_is_unavailable() -> None:
    with mock_aws():
        counters = DynamoDBCounters(boto3.client("dynamodb", region_name="ap-northeast-1"), "no-such-table")
        with pytest.raises(BudgetUnavailable, match="ResourceNotFoundException"):
            budgets(counters, user=per_hour(5)).admit(ASKER)
        with pytest.raises(BudgetUnavailable):
            counters.add("k", 1, int(NOW))


class ScriptedClient:
    """A DynamoDB client whose transactions fail as scripted, then succeed."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls = 0

    def transact_write_items(self, TransactItems):
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return {}


def cancelled(*codes: str) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
            "CancellationReasons": [{"Code": code} for code in codes],
        },
        "TransactWriteItems",
    )


CLAIM = Claim("budget#questions#user#T1:U1#0", 5, 1, "user", "questions", 3600)


def test_conflicting_transactions_are_retried() -> None:
    client = ScriptedClient(cancelled("TransactionConflict"), cancelled("TransactionConflict"))
    pauses: list[float] = []
    assert DynamoDBCounters(client, TABLE, pause=pauses.append).take([CLAIM]) == []
    assert client.calls == 3 and len(pauses) == 2


@pytest.mark.parametrize(
    "failures",
    [
        pytest.param(
            [cancelled("TransactionConflict")] * (CONFLICT_RETRIES + 1), id="conflicts-that-persist"
        ),
        pytest.param([cancelled("ThrottlingError")], id="throttled-item"),
        pytest.param(
            [
                ClientError(
                    {"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "TransactWriteItems"
                )
            ],
            id="access-denied",
        ),
        pytest.param([EndpointConnectionError(endpoint_url="https://dynamodb")], id="unreachable"),
    ],
)
def test_a_failing_transaction_is_unavailable(failures) -> None:
    counters = DynamoDBCounters(ScriptedClient(*failures), TABLE, pause=lambda _: None)
    with pytest.raises(BudgetUnavailable):
        counters.take([CLAIM])


def test_a_failure_inside_the_transaction_rolls_it_back(tmp_path) -> None:
    path = tmp_path / "budgets.sqlite3"
    counters = SQLiteCounters(path)
    with sqlite3.connect(str(path)) as other:
        other.execute("DROP TABLE budget_counters")  # the file is no longer a budget file
    with pytest.raises(BudgetUnavailable, match="no such table"):
        budgets(counters, user=per_hour(5)).admit(ASKER)
