"""Backfill: scan the knowledge table (parallel segments) through the same Indexer as the
stream path. Used by `kotae backfill` and, into a fresh index, by `kotae reindex`.

Scanned items are read with the table's key schema (DescribeTable), so each gets the key its
stream records give it (kotae.records.keys) and a backfill rewrites, never duplicates, what the
stream indexed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from kotae.errors import KotaeError
from kotae.indexing.indexer import Indexer
from kotae.models import Item
from kotae.records.keys import KeySchema, encode_key
from kotae.records.schema import DEFAULT_SCHEMA, ItemSchema


@dataclass
class BackfillReport:
    outcomes: Counter[str] = field(default_factory=Counter)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (key or position, reason)

    @property
    def failed(self) -> int:
        return len(self.failures)


def scan_segment(
    client: Any, table: str, segment: int, total: int, page_size: int = 100
) -> Iterator[list[dict[str, Any]]]:
    """Pages of deserialized items from one parallel-scan segment."""
    from boto3.dynamodb.types import TypeDeserializer

    deserialize = TypeDeserializer().deserialize
    paginator = client.get_paginator("scan")
    pages = paginator.paginate(
        TableName=table,
        Segment=segment,
        TotalSegments=total,
        ConsistentRead=True,
        PaginationConfig={"PageSize": page_size},
    )
    for page in pages:
        yield [{k: deserialize(v) for k, v in raw.items()} for raw in page.get("Items", [])]


def backfill(
    indexer: Indexer,
    client: Any,
    table: str,
    *,
    key_schema: KeySchema,
    schema: ItemSchema = DEFAULT_SCHEMA,
    segments: int = 4,
    progress: Callable[[int], None] | None = None,
) -> BackfillReport:
    """Index every item of the table; a bad item is reported (by its key, or by its segment and
    position when it has no usable key) and the rest go on."""
    from botocore.exceptions import BotoCoreError, ClientError

    from kotae.aws import translate

    report = BackfillReport()

    def index_page(segment: int, first: int, rows: list[dict[str, Any]]) -> None:
        items: list[Item] = []
        for position, raw in enumerate(rows, start=first):
            try:
                items.append(Item.from_mapping(raw, key_schema=key_schema, schema=schema))
            except KotaeError as exc:
                report.failures.append((_where(raw, key_schema, segment, position), str(exc)))
        try:
            results = indexer.index_many([(item, None) for item in items])
        except KotaeError:
            results = []
            for item in items:  # find the item(s) that failed, keep the rest
                try:
                    results.extend(indexer.index_many([(item, None)]))
                except KotaeError as exc:
                    report.failures.append((item.key, str(exc)))
        report.outcomes.update(r.outcome for r in results)
        if progress:
            progress(len(rows))

    def run(segment: int) -> None:
        seen = 0
        try:
            for rows in scan_segment(client, table, segment, segments):
                index_page(segment, seen + 1, rows)
                seen += len(rows)
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"scanning {table}") from exc

    # Scans run in parallel; writes go through the indexer one page at a time per segment.
    with ThreadPoolExecutor(max_workers=segments) as pool:
        for future in [pool.submit(run, s) for s in range(segments)]:
            future.result()
    return report


def _where(raw: dict[str, Any], key_schema: KeySchema, segment: int, position: int) -> str:
    """How a failed item is reported: its encoded key, or where the scan found it."""
    try:
        return encode_key(raw, key_schema)
    except KotaeError:
        return f"segment {segment} item {position}"
