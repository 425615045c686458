"""Backfill: scan the knowledge table (parallel segments) through the same Indexer as the
stream path. Used by `kotae backfill` and, into a fresh index, by `kotae reindex`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from kotae.errors import KotaeError
from kotae.indexing.indexer import Indexer
from kotae.models import Item


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
    segments: int = 4,
    progress: Callable[[int], None] | None = None,
) -> BackfillReport:
    """Index every item of the table; a bad item is reported and the rest go on."""
    from botocore.exceptions import BotoCoreError, ClientError

    from kotae.aws import translate

    report = BackfillReport()

    def index_page(rows: list[dict[str, Any]]) -> None:
        items: list[Item] = []
        for position, raw in enumerate(rows):
            try:
                items.append(Item.from_mapping(raw))
            except KotaeError as exc:
                report.failures.append((str(raw.get("item_key", f"row {position}")), str(exc)))
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
        try:
            for rows in scan_segment(client, table, segment, segments):
                index_page(rows)
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"scanning {table}") from exc

    # Scans run in parallel; writes go through the indexer one page at a time per segment.
    with ThreadPoolExecutor(max_workers=segments) as pool:
        for future in [pool.submit(run, s) for s in range(segments)]:
            future.result()
    return report
