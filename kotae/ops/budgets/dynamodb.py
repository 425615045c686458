"""Budget counters in a DynamoDB table (partition key ``id``, TTL attribute ``expiration``).

A question's claims are one TransactWriteItems call: an Update with ``ADD n :add`` and the
condition ``attribute_not_exists(n) OR n < :limit`` for each question counter, a ConditionCheck
with the same condition for each token total. DynamoDB applies all of them or none, so a
question refused by the workspace limit has not used the asker's or the channel's places, and
nothing needs giving back. The cancellation reasons say which conditions failed.
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html

Concurrent transactions on the same counter can cancel each other (reason TransactionConflict);
those are retried a few times with a short jittered pause, as AWS advises. IAM: the bot needs
dynamodb:UpdateItem and dynamodb:ConditionCheckItem on the table (a transaction is authorized
per item action).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from kotae.ops.budgets.base import BudgetUnavailable, Claim

KEY_ATTR, EXPIRY_ATTR, COUNT_ATTR = "id", "expiration", "n"
CONFLICT_RETRIES = 5
_NAMES = {"#n": COUNT_ATTR, "#e": EXPIRY_ATTR}
_BELOW_LIMIT = "attribute_not_exists(#n) OR #n < :limit"


class DynamoDBCounters:
    def __init__(self, client: Any, table: str, *, pause: Callable[[float], None] = time.sleep) -> None:
        self._client, self.table, self._pause = client, table, pause

    def _operation(self, claim: Claim) -> dict[str, Any]:
        common = {
            "TableName": self.table,
            "Key": {KEY_ATTR: {"S": claim.key}},
            "ConditionExpression": _BELOW_LIMIT,
        }
        limit = {":limit": {"N": str(claim.limit)}}
        if not claim.add:
            return {
                "ConditionCheck": {
                    **common,
                    "ExpressionAttributeNames": {"#n": COUNT_ATTR},
                    "ExpressionAttributeValues": limit,
                }
            }
        return {
            "Update": {
                **common,
                "UpdateExpression": "ADD #n :add SET #e = :expires",
                "ExpressionAttributeNames": _NAMES,
                "ExpressionAttributeValues": {
                    **limit,
                    ":add": {"N": str(claim.add)},
                    ":expires": {"N": str(claim.expires)},
                },
            }
        }

    def take(self, claims: Sequence[Claim]) -> list[Claim]:
        operations = [self._operation(claim) for claim in claims]
        for attempt in range(CONFLICT_RETRIES):
            full = self._transact(operations, claims, retry_conflicts=True)
            if full is not None:
                return full
            self._pause(random.uniform(0.01, 0.05) * (attempt + 1))  # jitter, so racers spread out
        return self._transact(operations, claims, retry_conflicts=False) or []

    def _transact(
        self, operations: list[dict[str, Any]], claims: Sequence[Claim], *, retry_conflicts: bool
    ) -> list[Claim] | None:
        """The full claims ([] when all were taken), or None for a conflict worth retrying."""
        try:
            self._client.transact_write_items(TransactItems=operations)
            return []
        except ClientError as exc:
            codes = _cancellation_codes(exc)
            if "ConditionalCheckFailed" in codes:
                return [
                    claim
                    for claim, code in zip(claims, codes, strict=False)
                    if code == "ConditionalCheckFailed"
                ]
            if retry_conflicts and "TransactionConflict" in codes:
                return None
            raise BudgetUnavailable(f"budget table {self.table}: {_describe(exc)}") from exc
        except BotoCoreError as exc:
            raise BudgetUnavailable(f"budget table {self.table}: {exc}") from exc

    def add(self, key: str, amount: int, expires: int) -> None:
        try:
            self._client.update_item(
                TableName=self.table,
                Key={KEY_ATTR: {"S": key}},
                UpdateExpression="ADD #n :add SET #e = :expires",
                ExpressionAttributeNames=_NAMES,
                ExpressionAttributeValues={":add": {"N": str(amount)}, ":expires": {"N": str(expires)}},
            )
        except (BotoCoreError, ClientError) as exc:
            raise BudgetUnavailable(f"budget table {self.table}: {exc}") from exc


def _cancellation_codes(exc: ClientError) -> list[str]:
    """The per-item reasons of a cancelled transaction, in the order of its items ([] otherwise)."""
    if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return []
    return [str(reason.get("Code", "None")) for reason in exc.response.get("CancellationReasons", [])]


def _describe(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code')}: {error.get('Message')}"
