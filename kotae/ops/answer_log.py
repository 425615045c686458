"""One JSON record per answer and per feedback click, partitioned by day for Athena.

Layout (both sinks): ``answers/dt=YYYY-MM-DD/…`` and ``feedback/dt=YYYY-MM-DD/…``, the
Hive-style partitions the seed articles query with Athena. S3 gets one object per record
(no read-modify-write); locally, one JSONL file per day under the data directory.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from kotae.errors import StoreError
from kotae.models import Answer

Kind = Literal["answers", "feedback"]


def answer_record(
    answer: Answer,
    *,
    answer_id: str,
    outcome: str,
    team_id: str | None = None,
    channel_id: str | None = None,
    user_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The trace of one answer, flat enough for Athena."""
    return {
        "answer_id": answer_id,
        "time": (now or datetime.now(UTC)).isoformat(),
        "team_id": team_id,
        "channel_id": channel_id,
        "user_id": user_id,
        "question": answer.question,
        "found": answer.found,
        "outcome": outcome,
        "retrieved": [
            {
                "key": h.document.item_key,
                "chunk_id": h.document.chunk_id,
                "score": h.score,
                "relevance": h.relevance,
            }
            for h in answer.hits
        ],
        "cited": [c.key for c in answer.citations],
        "prompt_task": answer.prompt_task,
        "prompt_version": answer.prompt_version,
        "model_id": answer.model_id,
        "input_tokens": answer.usage.input_tokens,
        "output_tokens": answer.usage.output_tokens,
        "latency_ms": answer.timings_ms,
        "total_ms": round(sum(answer.timings_ms.values()), 2),
        # The record query that answered and its figures, as JSON text (Athena: json_extract).
        "records": json.dumps(answer.records.public(), ensure_ascii=False) if answer.records else None,
        # Which model answered and why (kotae.answer.routing), and its estimated USD (kotae.ops.costs).
        "route": answer.route,
        "route_reason": answer.route_reason,
        "cost_usd": answer.cost_usd,
    }


def feedback_record(
    answer_id: str,
    value: Literal["up", "down"],
    *,
    user_id: str | None = None,
    reason: str | None = None,
    comment: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """One 👍/👎; a 👎 may carry the reason chosen in Slack (wrong, outdated, not_found, other)
    and the person's comment."""
    return {
        "answer_id": answer_id,
        "time": (now or datetime.now(UTC)).isoformat(),
        "user_id": user_id,
        "feedback": value,
        "reason": reason,
        "comment": comment,
    }


def partition(record: dict[str, Any]) -> str:
    return f"dt={record['time'][:10]}"


class LogSink(Protocol):
    def write(self, kind: Kind, record: dict[str, Any]) -> None: ...


class LocalSink:
    """JSONL files under <data_dir>/logs/<kind>/dt=YYYY-MM-DD/<kind>.jsonl."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()

    def write(self, kind: Kind, record: dict[str, Any]) -> None:
        path = self.root / kind / partition(record) / f"{kind}.jsonl"
        line = json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"
        with self._lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as handle:
                handle.write(line)


class S3Sink:
    """One object per record: s3://<bucket>/<prefix><kind>/dt=YYYY-MM-DD/<answer_id>[-<time>].json."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self._client, self.bucket, self.prefix = client, bucket, prefix

    def write(self, kind: Kind, record: dict[str, Any]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        name = record["answer_id"] if kind == "answers" else f"{record['answer_id']}-{record['time']}"
        key = f"{self.prefix}{kind}/{partition(record)}/{name}.json"
        try:
            self._client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=json.dumps(record, ensure_ascii=False, sort_keys=True).encode("utf-8"),
                ContentType="application/json",
            )
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"writing s3://{self.bucket}/{key}: {exc}") from exc
