"""The first pass of a batch run: scan the table and gather the texts that need embedding.

The same parallel scan as backfill (kotae.indexing.backfill.scan_segment); an item that cannot
be read is skipped here and reported by the second pass, which indexes the table for real.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kotae.errors import KotaeError
from kotae.indexing.backfill import scan_segment
from kotae.indexing.batch.inputs import Collection
from kotae.models import Document, Item
from kotae.records.keys import KeySchema
from kotae.records.schema import ItemSchema


def collect(
    collection: Collection,
    client: Any,
    table: str,
    *,
    key_schema: KeySchema,
    schema: ItemSchema,
    todo: Callable[[Item], list[Document]],
    text: Callable[[Document], str],
    segments: int = 4,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Add ``text(d)`` of every chunk ``todo(item)`` returns, for every item of the table."""
    from botocore.exceptions import BotoCoreError, ClientError

    from kotae.aws import translate

    def run(segment: int) -> None:
        try:
            for rows in scan_segment(client, table, segment, segments):
                for raw in rows:
                    try:
                        item = Item.from_mapping(raw, key_schema=key_schema, schema=schema)
                        documents = todo(item)
                    except KotaeError:
                        continue  # reported by the indexing pass
                    for document in documents:
                        collection.add(text(document))
                if progress:
                    progress(len(rows))
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"scanning {table}") from exc

    with ThreadPoolExecutor(max_workers=segments) as pool:
        for future in [pool.submit(run, s) for s in range(segments)]:
            future.result()
