"""Answer each Slack event once, with Powertools idempotency, and remember the bot's threads.

Slack retries an event it did not see acknowledged (X-Slack-Retry-Num) and may deliver one event
twice. Answering is an idempotent function keyed by the event id: the first delivery writes an
INPROGRESS record, later ones find it and stop, and a completed record answers them from the
store without a second message. If answering raises, Powertools deletes the record, so Slack's
next retry is answered. See
https://docs.powertools.aws.dev/lambda/python/latest/utilities/idempotency/

In AWS the records live in a DynamoDB table with Powertools' layout (partition key ``id``, TTL
attribute ``expiration``); on one machine in a SQLite file with the same semantics. The same
table keeps "the bot answered in this thread" markers, so follow-ups need no second store.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from aws_lambda_powertools.utilities.idempotency import (
    BasePersistenceLayer,
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from kotae.settings import Settings

ANSWER_RECORD_SECONDS = 3600  # Slack gives up retrying long before this
KEY_ATTR, EXPIRY_ATTR = "id", "expiration"  # Powertools' defaults; infra/ creates the table so


LOCAL_ANSWER_BUDGET_MS = 120_000


class LocalBudget:
    """Stands in for the Lambda context outside Lambda (Socket Mode, tests): an answer that has
    not finished within this budget (a crashed process) no longer blocks Slack's retries. The
    Lambda handler registers the real context, whose remaining time is the budget there."""

    def get_remaining_time_in_millis(self) -> int:
        return LOCAL_ANSWER_BUDGET_MS


def idempotency_config() -> IdempotencyConfig:
    """The event id alone identifies a delivery; retries carry the same one."""
    config = IdempotencyConfig(
        event_key_jmespath="event_id",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=ANSWER_RECORD_SECONDS,
    )
    config.register_lambda_context(LocalBudget())  # type: ignore[arg-type]
    return config


class SQLitePersistenceLayer(BasePersistenceLayer):
    """Powertools' persistence contract on one SQLite file: a put succeeds only when the key is
    new, expired, or INPROGRESS past its in-progress expiry (the DynamoDB layer's condition)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS idempotency (id TEXT PRIMARY KEY, status TEXT NOT NULL,"
            " expiration INTEGER, in_progress_expiration INTEGER, data TEXT, validation TEXT)"
        )
        self._lock = threading.Lock()

    def _row(self, key: str) -> DataRecord | None:
        row = self._db.execute(
            "SELECT id, status, expiration, in_progress_expiration, data, validation"
            " FROM idempotency WHERE id = ?",
            (key,),
        ).fetchone()
        if row is None:
            return None
        return DataRecord(
            idempotency_key=row[0],
            status=row[1],
            expiry_timestamp=row[2],
            in_progress_expiry_timestamp=row[3],
            response_data=row[4] or "",
            payload_hash=row[5] or "",
        )

    def _get_record(self, idempotency_key: str) -> DataRecord:
        record = self._row(idempotency_key)
        if record is None:
            raise IdempotencyItemNotFoundError
        return record

    def _put_record(self, data_record: DataRecord) -> None:
        now = time.time()
        with self._lock:
            old = self._row(data_record.idempotency_key)
            if old is not None and not _replaceable(old, now):
                raise IdempotencyItemAlreadyExistsError(old_data_record=old)
            self._db.execute(
                "INSERT OR REPLACE INTO idempotency VALUES (?, ?, ?, ?, ?, ?)",
                (
                    data_record.idempotency_key,
                    data_record.status,
                    data_record.expiry_timestamp,
                    data_record.in_progress_expiry_timestamp,
                    data_record.response_data,
                    data_record.payload_hash,
                ),
            )

    def _update_record(self, data_record: DataRecord) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE idempotency SET data = ?, expiration = ?, status = ?, validation = ? WHERE id = ?",
                (
                    data_record.response_data,
                    data_record.expiry_timestamp,
                    data_record.status,
                    data_record.payload_hash,
                    data_record.idempotency_key,
                ),
            )

    def _delete_record(self, data_record: DataRecord) -> None:
        with self._lock:
            self._db.execute("DELETE FROM idempotency WHERE id = ?", (data_record.idempotency_key,))


def _replaceable(old: DataRecord, now: float) -> bool:
    if old.expiry_timestamp is not None and old.expiry_timestamp < now:
        return True
    stuck = old.in_progress_expiry_timestamp
    return old.status == "INPROGRESS" and stuck is not None and stuck < now * 1000


class ThreadMemory(Protocol):
    """Markers such as "the bot answered in this thread", each kept for a while."""

    def remember(self, key: str, seconds: int) -> None: ...

    def known(self, key: str) -> bool: ...


class SQLiteThreadMemory:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("CREATE TABLE IF NOT EXISTS markers (id TEXT PRIMARY KEY, expiration REAL NOT NULL)")
        self._lock = threading.Lock()

    def remember(self, key: str, seconds: int) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO markers VALUES (?, ?)", (key, time.time() + seconds))

    def known(self, key: str) -> bool:
        row = self._db.execute("SELECT expiration FROM markers WHERE id = ?", (key,)).fetchone()
        return bool(row and row[0] >= time.time())


class DynamoDBThreadMemory:
    """Markers in the idempotency table (same key and TTL attributes, their own key space)."""

    def __init__(self, client: Any, table: str) -> None:
        self._client, self.table = client, table

    def remember(self, key: str, seconds: int) -> None:
        expires = str(int(time.time()) + seconds)
        self._client.put_item(TableName=self.table, Item={KEY_ATTR: {"S": key}, EXPIRY_ATTR: {"N": expires}})

    def known(self, key: str) -> bool:
        item = self._client.get_item(
            TableName=self.table, Key={KEY_ATTR: {"S": key}}, ConsistentRead=True
        ).get("Item")
        # TTL deletion lags by up to days, so the expiry is checked here too.
        return bool(item and int(item[EXPIRY_ATTR]["N"]) >= time.time())


def stores_for(settings: Settings) -> tuple[BasePersistenceLayer, ThreadMemory]:
    """DynamoDB when KOTAE_DEDUPE_TABLE is set, else one SQLite file under the data directory."""
    if settings.dedupe_table:
        from kotae.aws import client

        dynamodb = client("dynamodb", settings.aws_region)
        layer = DynamoDBPersistenceLayer(
            table_name=settings.dedupe_table,
            key_attr=KEY_ATTR,
            expiry_attr=EXPIRY_ATTR,
            boto3_client=dynamodb,
        )
        return layer, DynamoDBThreadMemory(dynamodb, settings.dedupe_table)
    path = settings.data_dir / "idempotency.sqlite3"
    return SQLitePersistenceLayer(path), SQLiteThreadMemory(path)
