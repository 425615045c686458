"""Answer each Slack event once: a claim per event id, released again if answering failed.

Slack retries an event it did not see acknowledged (X-Slack-Retry-Num) and may deliver one
event twice. The first delivery claims the event id; later ones find the claim and stop. If the
answer fails, the claim is released so Slack's next retry is answered.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Protocol

CLAIM_SECONDS = 3600


class Dedupe(Protocol):
    def claim(self, event_id: str) -> bool: ...

    def release(self, event_id: str) -> None: ...

    def remember(self, key: str, seconds: int) -> None: ...

    def known(self, key: str) -> bool: ...


class SQLiteDedupe:
    """The embedded equivalent of the DynamoDB table: one small file, expired claims ignored."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS claims (event_id TEXT PRIMARY KEY, expires REAL NOT NULL)"
        )
        self._lock = threading.Lock()

    def claim(self, event_id: str) -> bool:
        now = time.time()
        with self._lock:
            self._db.execute("DELETE FROM claims WHERE expires < ?", (now,))
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO claims VALUES (?, ?)", (event_id, now + CLAIM_SECONDS)
            )
            return cursor.rowcount == 1

    def release(self, event_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM claims WHERE event_id = ?", (event_id,))

    def remember(self, key: str, seconds: int) -> None:
        """Keep a marker (e.g. 'the bot answered in this thread') for a while."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO claims VALUES (?, ?)", (key, time.time() + seconds))

    def known(self, key: str) -> bool:
        row = self._db.execute("SELECT expires FROM claims WHERE event_id = ?", (key,)).fetchone()
        return bool(row and row[0] >= time.time())


class DynamoDBDedupe:
    """A conditional put per event id, with a TTL attribute so the table cleans itself."""

    def __init__(self, client: Any, table: str) -> None:
        self._client, self.table = client, table

    def claim(self, event_id: str) -> bool:
        now = int(time.time())
        try:
            self._client.put_item(
                TableName=self.table,
                Item={"event_id": {"S": event_id}, "expires_at": {"N": str(now + CLAIM_SECONDS)}},
                ConditionExpression="attribute_not_exists(event_id) OR expires_at < :now",
                ExpressionAttributeValues={":now": {"N": str(now)}},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def release(self, event_id: str) -> None:
        self._client.delete_item(TableName=self.table, Key={"event_id": {"S": event_id}})

    def remember(self, key: str, seconds: int) -> None:
        expires = str(int(time.time()) + seconds)
        self._client.put_item(
            TableName=self.table, Item={"event_id": {"S": key}, "expires_at": {"N": expires}}
        )

    def known(self, key: str) -> bool:
        item = self._client.get_item(
            TableName=self.table, Key={"event_id": {"S": key}}, ConsistentRead=True
        ).get("Item")
        return bool(item and int(item["expires_at"]["N"]) >= time.time())
