"""Which stored documents of an item a read may serve: only those of the item's newest write.

Every write stamps all the documents it indexes (the item's chunks, or its tombstone) with one
write id in the ``write`` keyword field. For a while an item can have documents of more than one
write: with generated ids (Serverless vector collections) a write indexes new documents and only
then deletes the old ones by id, and Serverless makes each visible seconds later; with custom ids
the chunks a write dropped are deleted after the others are written; and either delete can fail.
A search filtered by scope can then match an old copy (public) of an item whose newest copy is in
another scope (hr), and de-duplicating the hits cannot tell, since the newest copy is not among
them. So each read looks its candidates up again, *without* the scope filter (``newest_query``),
and keeps a hit only if it belongs to its item's newest write and that write is not a tombstone;
the newest copy passed the read's own filter, or it would not be a hit.

The newest write is the one with the newest version; among writes whose versions do not order
(the same version, unversioned writes), the one with the latest write id, which starts with the
writing machine's clock in nanoseconds.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kotae.versions import is_older

WRITE_FIELD = "write"
# Writes of one item a read looks at, newest ids first: more are only left by many writes of one
# item inside Serverless' refresh interval, and the oldest of them are the ones not looked at.
MAX_WRITES = 16
# Documents written before the field existed are all of one, oldest, write.
LEGACY_WRITE = ""

Hit = dict[str, Any]


def new_write_id(clock: Callable[[], int] = time.time_ns) -> str:
    """A write id that sorts by time: the clock in nanoseconds, then a random part."""
    return f"{clock():020d}-{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class Write:
    """One write of an item, as its stored documents say."""

    id: str
    version: str | None
    deleted: bool


def newest(writes: Iterable[Write]) -> Write | None:
    """The item's newest write: a later write id wins unless its version is older."""
    best: Write | None = None
    for write in sorted(writes, key=lambda w: w.id):
        if best is None or not is_older(write.version, best.version):
            best = write
    return best


def write_of(source: dict[str, Any]) -> str:
    return str(source.get(WRITE_FIELD) or LEGACY_WRITE)


def writes_in(hits: Sequence[Hit]) -> list[Write]:
    """The writes the hits of one item belong to (a write with a tombstone is a deletion)."""
    found: dict[str, Write] = {}
    for hit in hits:
        source = hit["_source"]
        write = write_of(source)
        deleted = bool(source.get("deleted")) or (write in found and found[write].deleted)
        found[write] = Write(write, source.get("version"), deleted)
    return list(found.values())


def current(hits: Sequence[Hit]) -> list[Hit]:
    """The hits of one item that belong to its newest write."""
    latest = newest(writes_in(hits))
    return [h for h in hits if latest is not None and write_of(h["_source"]) == latest.id]


def newest_query(item_keys: Sequence[str]) -> dict[str, Any]:
    """One size-0 search for the newest writes of these items, whatever their scopes, tombstones
    included: a ``terms`` aggregation per item, under it one per write id (newest ids first,
    documents without one as ``missing``), and the version and deletion of one document of each
    write (``top_hits``; every document of a write has the same).
    https://docs.opensearch.org/latest/aggregations/bucket/terms/
    https://docs.opensearch.org/latest/aggregations/metric/top-hits/"""
    one_copy = {"top_hits": {"size": 1, "_source": {"includes": ["version", "deleted"]}}}
    writes = {
        "terms": {
            "field": WRITE_FIELD,
            "size": MAX_WRITES,
            "missing": LEGACY_WRITE,
            "order": {"_key": "desc"},
        },
        "aggs": {"copy": one_copy},
    }
    return {
        "size": 0,
        "track_total_hits": False,
        "query": {"bool": {"filter": [{"terms": {"item_key": list(item_keys)}}]}},
        "aggs": {
            "items": {"terms": {"field": "item_key", "size": len(item_keys)}, "aggs": {"writes": writes}}
        },
    }


def newest_writes(response: dict[str, Any]) -> dict[str, Write]:
    """The answer to newest_query: {item key: its newest write}."""
    out = {}
    for item in response["aggregations"]["items"]["buckets"]:
        writes = []
        for bucket in item["writes"]["buckets"]:
            (top,) = bucket["copy"]["hits"]["hits"]
            source = top.get("_source", {})
            writes.append(Write(str(bucket["key"]), source.get("version"), bool(source.get("deleted"))))
        latest = newest(writes)
        if latest is not None:
            out[str(item["key"])] = latest
    return out


def servable(hits: Sequence[Hit], latest: dict[str, Write]) -> list[Hit]:
    """The hits that belong to their item's newest write, when that write is not a deletion."""
    out = []
    for hit in hits:
        write = latest.get(hit["_source"].get("item_key"))
        if write is not None and not write.deleted and write_of(hit["_source"]) == write.id:
            out.append(hit)
    return out
