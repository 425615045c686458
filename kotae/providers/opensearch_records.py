"""Request bodies and answers of the OpenSearch store's record queries (RecordQuerying).

How facets are mapped. ``facets`` is an ``object`` whose subfields the index adds as they first
appear, each mapped ``keyword`` by the ``kotae_facets`` dynamic template (``path_match:
facets.*``, no ``match_mapping_type``, so that date detection cannot turn an id that looks like a
date into a ``date`` field). Keyword subfields support ``term``/``terms``/``prefix`` filters and
``terms`` aggregations, on managed domains and on Serverless collections alike, which take the
same mapping API (https://docs.aws.amazon.com/opensearch-service/latest/developerguide/
serverless-genref.html). ``flat_object`` would keep the mapping to one field, but OpenSearch
documents that it supports no "aggregations of subfields using dot notation"
(https://docs.opensearch.org/latest/mappings/supported-field-types/flat-object/), and counting
by a facet is the point. Facet names are schema names (a handful per kind), far below the
index's limit of 1,000 mapped fields. ``timestamp`` is a ``date`` with ``ignore_malformed``
(https://docs.opensearch.org/latest/mappings/mapping-parameters/ignore-malformed/): a bad value
is kept in ``_source`` and left unindexed, so it sorts as missing and never fails a write.

Counting items once. Every item has a chunk 0 and only chunk 0 is counted: each body filters on
``chunk_index: 0`` besides the reads' own visibility (scopes, kinds, no tombstones), so
``hits.total`` and every bucket's ``doc_count`` count items, not chunks. Facet values are terms;
the time range is a ``range`` on the date field; nothing from a question is parsed as syntax.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from kotae.models import Document, Filters
from kotae.providers.base import allows
from kotae.providers.opensearch_queries import (
    SOURCE_EXCLUDES,
    Clause,
    Hit,
    SearchBody,
    document_from_source,
    term,
    terms,
    visibility,
)
from kotae.records.facets import utc_timestamp
from kotae.records.query import RecordQuery, RecordResult

FACETS_FIELD = "facets"
TIMESTAMP_FIELD = "timestamp"
# Group keys for items without the facet, and for the documents of buckets a terms aggregation
# left out (its sum_other_doc_count): a truncated group is reported, never silently dropped.
NO_VALUE = "(none)"
OTHER = "(other)"
# Buckets per level of a group: one facet, or two (first x second). A response may hold at most
# search.max_buckets buckets, 65,535 by default (https://docs.opensearch.org/latest/
# install-and-configure/configuring-opensearch/search-settings/): 10,000 for one facet, and
# 1,000 x 50 + 1,000 = 51,000 for two stay below it. Grouped facets are low-cardinality (statuses,
# prompt versions, task names: tens; executions: hundreds); a larger facet is reported as OTHER.
GROUP_SIZES = {1: (10_000,), 2: (1_000, 50)}
# Newest first, items without a timestamp last, then by key: the order of RecordResult.keys.
# https://docs.opensearch.org/latest/search-plugins/searching-data/sort/
RECORD_SORT: list[dict[str, Any]] = [
    {TIMESTAMP_FIELD: {"order": "desc", "missing": "_last"}},
    {"item_key": {"order": "asc"}},
]


def facet_field(facet: str) -> str:
    return f"{FACETS_FIELD}.{facet}"


def instant(moment: datetime) -> str:
    """A query bound in the stored form (UTC, milliseconds, Z), rounded *up* to the millisecond:
    stored times have milliseconds, so ``t >= since`` and ``t < until`` hold exactly when they
    hold against the rounded-up bound."""
    spare = moment.microsecond % 1000
    text = utc_timestamp(moment + timedelta(microseconds=1000 - spare) if spare else moment)
    assert text is not None  # an aware datetime is always a time
    return text


def item_filter(kind: str, filters: Filters, where: dict[str, list[str]] | None = None) -> Clause:
    """First chunks of the visible, live items of ``kind`` whose facets take the given values."""
    condition = visibility(filters)
    clauses: list[Clause] = condition["bool"]["filter"]
    clauses += [term("kind", kind), term("chunk_index", 0)]
    clauses += [terms(facet_field(facet), values) for facet, values in sorted((where or {}).items())]
    return condition


def records_query(query: RecordQuery, filters: Filters) -> SearchBody:
    """One search for any operation: the exact number of matching items (``track_total_hits``);
    for ``list`` and ``latest`` the first ``limit`` of them newest first, for ``group`` the nested
    terms aggregations, for ``count`` nothing more (size 0)."""
    condition = item_filter(query.kind, filters, query.where)
    if query.since is not None or query.until is not None:
        bounds = {"gte": query.since, "lt": query.until}
        window = {name: instant(moment) for name, moment in bounds.items() if moment is not None}
        condition["bool"]["filter"].append({"range": {TIMESTAMP_FIELD: window}})
    body: SearchBody = {"size": 0, "track_total_hits": True, "query": condition}
    if query.operation in ("list", "latest"):
        body["size"] = query.limit
        body["sort"] = [dict(key) for key in RECORD_SORT]
        body["_source"] = {"excludes": list(SOURCE_EXCLUDES)}
    if query.operation == "group":
        body["aggs"] = {"groups": group_aggregation(query.group_by)}
    return body


def group_aggregation(group_by: Sequence[str]) -> dict[str, Any]:
    """A ``terms`` aggregation on the first facet with one on the second inside (``then``), each
    putting items without the facet in a NO_VALUE bucket (``missing``).
    https://docs.opensearch.org/latest/aggregations/bucket/terms/"""
    inner: dict[str, Any] | None = None
    for facet, size in reversed(list(zip(group_by, GROUP_SIZES[len(group_by)], strict=True))):
        level: dict[str, Any] = {"terms": {"field": facet_field(facet), "size": size, "missing": NO_VALUE}}
        if inner is not None:
            level["aggs"] = {"then": inner}
        inner = level
    assert inner is not None  # RecordQuery has one or two group_by facets for a group
    return inner


def groups_of(aggregation: dict[str, Any]) -> dict[str, Any]:
    """{value: count}, or {value: {value: count}} when the buckets hold ``then``, ordered by value
    with NO_VALUE and then OTHER last (as the embedded store orders them); the documents of
    left-out buckets (``sum_other_doc_count``) under OTHER. The aggregation itself keeps its
    default order, largest buckets first, so that a truncated group keeps the largest."""
    out: dict[str, Any] = {}
    for bucket in aggregation["buckets"]:
        inner = bucket.get("then")
        out[str(bucket["key"])] = groups_of(inner) if inner is not None else int(bucket["doc_count"])
    other = int(aggregation.get("sum_other_doc_count") or 0)
    if other:
        nested = any(isinstance(value, dict) for value in out.values())
        out[OTHER] = {OTHER: other} if nested else other
    last = {NO_VALUE: 1, OTHER: 2}
    return dict(sorted(out.items(), key=lambda item: (last.get(item[0], 0), item[0])))


def facet_values_query(kind: str, facet: str, filters: Filters, prefix: str, limit: int) -> SearchBody:
    """The values of one facet with their item counts, in value order. A prefix is a ``prefix``
    query on the keyword (a plain value, case-sensitive), so the aggregation only sees items whose
    value starts with it; ordered by ``_key``, the first ``limit`` values are exact on any number
    of shards. https://docs.opensearch.org/latest/query-dsl/term/prefix/"""
    condition = item_filter(kind, filters)
    if prefix:
        condition["bool"]["filter"].append({"prefix": {facet_field(facet): {"value": prefix}}})
    values = {"terms": {"field": facet_field(facet), "size": limit, "order": {"_key": "asc"}}}
    return {"size": 0, "track_total_hits": False, "query": condition, "aggs": {"values": values}}


def facet_values_of(response: dict[str, Any]) -> dict[str, int]:
    return {str(b["key"]): int(b["doc_count"]) for b in response["aggregations"]["values"]["buckets"]}


def facet_names(mapping: dict[str, Any]) -> list[str]:
    """The facets mapped in any index of a GET _mapping answer (subfields of ``facets``)."""
    names: set[str] = set()
    for body in mapping.values():
        facets = body.get("mappings", {}).get("properties", {}).get(FACETS_FIELD, {})
        names.update(facets.get("properties", {}))
    return sorted(names)


def facet_matches_query(
    kind: str, facets: Sequence[str], values: Sequence[str], filters: Filters
) -> SearchBody:
    """One search: items having one of ``values`` as any facet (a ``terms`` filter per facet,
    one of them enough), and per facet a ``terms`` aggregation whose ``include`` lists exactly
    those values, so its buckets say which of them the facet takes."""
    condition = item_filter(kind, filters)
    condition["bool"]["should"] = [terms(facet_field(f), values) for f in facets]
    condition["bool"]["minimum_should_match"] = 1
    aggs = {
        f"f{i}": {"terms": {"field": facet_field(f), "include": list(values), "size": len(values)}}
        for i, f in enumerate(facets)
    }
    return {"size": 0, "track_total_hits": False, "query": condition, "aggs": aggs}


def facet_matches_of(facets: Sequence[str], response: dict[str, Any]) -> dict[str, list[str]]:
    """{value: the facets (sorted) it is a value of} from facet_matches_query's answer."""
    out: dict[str, list[str]] = {}
    for i, facet in enumerate(facets):
        for bucket in response["aggregations"][f"f{i}"]["buckets"]:
            out.setdefault(str(bucket["key"]), []).append(facet)
    return {value: sorted(names) for value, names in out.items()}


class _Reads(Protocol):
    def _read(self, body: Mapping[str, object], what: str) -> dict[str, Any]: ...

    def _mapping(self) -> dict[str, Any]: ...

    def _servable(self, hits: list[Hit], what: str) -> list[Hit]: ...


class RecordReads:
    """RecordQuerying for OpenSearchStore, built on three of its reads: ``_read`` (one search,
    errors translated), ``_mapping`` (GET the alias' mapping) and ``_servable`` (the hits that
    belong to their item's newest write, opensearch_copies)."""

    def query_records(self: _Reads, query: RecordQuery, filters: Filters) -> RecordResult:
        """``total`` is the exact hit count of the items' first chunks; ``list`` and ``latest``
        list the first ``limit`` of them (count and group list none). The listed ones are served
        as searches serve hits: only a newest write's copy, and only what ``filters`` allow.
        (Counts come from the index as it is: while Serverless has not yet made a write's
        deletions visible, a few seconds, an item can count twice or in its old scope.)"""
        response = self._read(records_query(query, filters), "record query")
        documents: dict[str, Document] = {}
        for hit in self._servable(list(response["hits"]["hits"]), "record query"):
            doc = document_from_source(hit["_source"])
            if doc.kind == query.kind and allows(filters, doc):
                documents.setdefault(doc.item_key, doc)
        groups = groups_of(response["aggregations"]["groups"]) if query.operation == "group" else {}
        return RecordResult(
            query=query,
            total=int(response["hits"]["total"]["value"]),
            keys=list(documents),
            groups=groups,
            documents=list(documents.values()),
        )

    def facet_values(
        self: _Reads, kind: str, facet: str, filters: Filters, *, prefix: str = "", limit: int = 1000
    ) -> dict[str, int]:
        if limit < 1:
            return {}
        body = facet_values_query(kind, facet, filters, prefix, limit)
        return facet_values_of(self._read(body, f"values of facet {facet}"))

    def facet_matches(
        self: _Reads, kind: str, values: Sequence[str], filters: Filters
    ) -> dict[str, list[str]]:
        """Which facets the values are values of, over the facets the index has mapped."""
        unique = list(dict.fromkeys(values))
        facets = facet_names(self._mapping()) if unique else []
        if not facets:
            return {}
        body = facet_matches_query(kind, facets, unique, filters)
        return facet_matches_of(facets, self._read(body, "facet matches"))
