"""Reading the answer log back (kotae.ops.answer_log): the day partitions of a time window.

Only the ``dt=YYYY-MM-DD`` partitions from the window's first day to today are opened, locally
``<root>/<kind>/dt=…/<kind>.jsonl`` and on S3 the objects under ``<prefix><kind>/dt=…/``, so a
30-day read of a two-year bucket lists 31 prefixes, not the bucket. A record that is not a
JSON object with an ``answer_id`` and an ISO ``time`` is counted as unreadable and left out.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from kotae.errors import InputError, StoreError
from kotae.ops.answer_log import Kind

_SPAN = re.compile(r"(\d{1,4})\s*([dh])")


def parse_since(text: str, now: datetime) -> datetime:
    """The start of the window: ``30d`` or ``12h`` before ``now``, or an ISO date or time (UTC
    when it names no offset)."""
    value = text.strip().lower()
    span = _SPAN.fullmatch(value)
    if span:
        amount = int(span.group(1))
        return now - (timedelta(days=amount) if span.group(2) == "d" else timedelta(hours=amount))
    try:
        start = (
            datetime.fromisoformat(value.upper())
            if "t" in value
            else datetime.combine(date.fromisoformat(value), datetime.min.time())
        )
    except ValueError as exc:
        raise InputError(
            f"--since {text!r}: give a span such as 30d or 12h, or an ISO date (2026-11-01)"
        ) from exc
    return start if start.tzinfo else start.replace(tzinfo=UTC)


def partitions(since: datetime, now: datetime) -> list[str]:
    """The ``dt=`` partitions a record written between ``since`` and ``now`` can be in."""
    first, last = since.astimezone(UTC).date(), now.astimezone(UTC).date()
    return [f"dt={first + timedelta(days=n)}" for n in range((last - first).days + 1)]


class LogReader(Protocol):
    def texts(self, kind: Kind, partition: str) -> Iterator[str]:
        """The raw JSON text of every record of one kind in one partition."""
        ...


class LocalLog:
    """The JSONL files kotae.ops.answer_log.LocalSink writes under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def texts(self, kind: Kind, partition: str) -> Iterator[str]:
        path = self.root / kind / partition / f"{kind}.jsonl"
        if not path.is_file():
            return
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise StoreError(f"cannot read {path}: {exc}") from exc
        yield from (line for line in lines if line.strip())


class S3Log:
    """The one-object-per-record layout kotae.ops.answer_log.S3Sink writes."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self._client, self.bucket, self.prefix = client, bucket, prefix

    def texts(self, kind: Kind, partition: str) -> Iterator[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        where = f"{self.prefix}{kind}/{partition}/"
        try:
            pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=where)
            for page in pages:
                for entry in page.get("Contents", []):
                    body = self._client.get_object(Bucket=self.bucket, Key=entry["Key"])["Body"]
                    yield body.read().decode("utf-8", errors="replace")
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"reading s3://{self.bucket}/{where}: {exc}") from exc


def _parsed(text: str) -> tuple[dict[str, Any], datetime] | None:
    try:
        record = json.loads(text)
        stamp = datetime.fromisoformat(record["time"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
    if not isinstance(record.get("answer_id"), str):
        return None
    return record, stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def read_records(
    reader: LogReader, kind: Kind, since: datetime, now: datetime, problems: Counter[str]
) -> Iterator[dict[str, Any]]:
    """Every readable record of ``kind`` written from ``since`` on, partition by partition;
    unreadable ones are counted in ``problems["unreadable_record"]``."""
    for partition in partitions(since, now):
        for text in reader.texts(kind, partition):
            parsed = _parsed(text)
            if parsed is None:
                problems["unreadable_record"] += 1
            elif parsed[1] >= since:
                yield parsed[0]
