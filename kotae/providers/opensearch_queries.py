"""Request bodies for the OpenSearch store (index mapping, typed queries, bulk lines) and the
reading of its answers.

Everything here is a pure function on plain dicts, so tests can assert on exact bodies.
User text only ever becomes the value of a ``"query"`` key (``multi_match``) and never goes
through a query-string syntax, so nothing a person types is parsed as an operator.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Literal, TypedDict

from kotae.errors import IndexMismatch
from kotae.models import Document, Filters
from kotae.providers.base import ItemState
from kotae.providers.opensearch_analysis import KUROMOJI, with_meta
from kotae.providers.opensearch_client import error_summary
from kotae.providers.opensearch_copies import WRITE_FIELD, current
from kotae.providers.opensearch_lexical import fill_analysis
from kotae.text import tokenize
from kotae.versions import is_older

VECTOR_FIELD = "vector"
# The chunk's kotae tokens (kotae.text.tokenize of title and text) as keywords: OpenSearch's own
# analyzers rank lexical matches, this field gives the chunk frequencies of kotae's terms that the
# answer layer's relevance needs (term_frequencies_query), the same terms SQLite counts.
TOKENS_FIELD = "tokens"
SOURCE_EXCLUDES = [VECTOR_FIELD, TOKENS_FIELD]
# The declarative part of the index body: analysis settings and the field mapping.
INDEX_TEMPLATE = "opensearch_index.json"
# faiss HNSW is the engine OpenSearch Serverless vector collections run (NextGen converts every
# knn_vector to it). innerproduct works on every faiss version the service runs, while faiss
# cosinesimil only arrived in k-NN 2.19. The store L2-normalizes every vector it writes and
# queries, so the inner product *is* the cosine similarity, as in the embedded store.
VECTOR_ENGINE = "faiss"
VECTOR_SPACE = "innerproduct"
TOMBSTONE_SUFFIX = "#tombstone"

Clause = dict[str, Any]


class SourceFilter(TypedDict):
    excludes: list[str]


class SearchBody(TypedDict, total=False):
    query: Clause
    size: int
    _source: SourceFilter
    aggs: dict[str, Any]
    track_total_hits: bool
    sort: list[dict[str, Any]]


class CountBody(TypedDict):
    query: Clause


class AliasAction(TypedDict, total=False):
    add: dict[str, str]
    remove: dict[str, str]


class AliasesBody(TypedDict):
    actions: list[AliasAction]


@cache
def _index_template() -> str:
    return resources.files("kotae.providers").joinpath(INDEX_TEMPLATE).read_text(encoding="utf-8")


def index_body(dimensions: int) -> dict[str, Any]:
    """Settings and mapping of one concrete index (``PUT <alias>-v<N>``): the package's
    ``opensearch_index.json`` with the vector's size, engine and space type filled in.

    It sets no shard or replica counts (Serverless rejects them; managed domains use their
    defaults), and the mapping is strict: a field the store does not know is a bug, refused
    instead of guessed at. The one dynamic part is ``facets``, whose subfields the
    ``kotae_facets`` template maps as keywords (why: opensearch_records). The mapping's ``_meta``
    records the Japanese analysis (kuromoji here; opensearch_analysis for the fallback); the
    lexical analyzers' word lists are generated (opensearch_lexical.fill_analysis).
    """
    body: dict[str, Any] = fill_analysis(json.loads(_index_template()))
    vector = body["mappings"]["properties"][VECTOR_FIELD]
    vector["dimension"] = dimensions
    vector["method"].update({"engine": VECTOR_ENGINE, "space_type": VECTOR_SPACE})
    return with_meta(body, KUROMOJI)


def mapping_update(index: str, stored: dict[str, Any], dimensions: int) -> dict[str, Any]:
    """The ``PUT <index>/_mapping`` body that gives an existing index (``stored``: its
    ``mappings``) what this kotae maps and it lacks: new fields, and the dynamic templates (sent
    with the stored ones, since the request replaces the list). Empty when nothing is missing.
    A field mapped with another type cannot change in place: IndexMismatch says to reindex."""
    wanted = index_body(dimensions)["mappings"]
    properties = stored.get("properties", {})
    for name, spec in wanted["properties"].items():
        if name in properties and _field_type(properties[name]) != _field_type(spec):
            raise IndexMismatch(
                f"OpenSearch index {index} maps {name!r} as {_field_type(properties[name])}, this kotae "
                f"as {_field_type(spec)}; run `kotae reindex`"
            )
    body: dict[str, Any] = {}
    missing = {name: spec for name, spec in wanted["properties"].items() if name not in properties}
    if missing:
        body["properties"] = missing
    templates = list(stored.get("dynamic_templates") or [])
    known = {name for template in templates for name in template}
    absent = [t for t in wanted["dynamic_templates"] if not known.intersection(t)]
    if absent:
        body["dynamic_templates"] = templates + absent
    return body


def _field_type(spec: dict[str, Any]) -> str:
    # GET _mapping leaves "type" out of object fields.
    return str(spec.get("type", "object"))


# -- queries -----------------------------------------------------------------------------------
def term(name: str, value: str | bool | int) -> Clause:
    return {"term": {name: value}}


def terms(name: str, values: Sequence[str]) -> Clause:
    return {"terms": {name: list(values)}}


NOT_DELETED: list[Clause] = [term("deleted", True)]


def visibility(filters: Filters) -> Clause:
    """The bool query every read applies: scopes, kinds, and never a tombstone.

    An empty tuple of scopes is an empty ``terms`` list, which matches nothing (as it should).
    """
    clauses = []
    if filters.scopes is not None:
        clauses.append(terms("scopes", filters.scopes))
    if filters.kinds is not None:
        clauses.append(terms("kind", filters.kinds))
    return {"bool": {"filter": clauses, "must_not": list(NOT_DELETED)}}


def knn_query(vector: Sequence[float], k: int, filters: Filters) -> SearchBody:
    # The filter sits inside the knn clause: efficient filtering (faiss) restricts the graph
    # walk itself, so k results come back even when few documents are visible.
    clause = {VECTOR_FIELD: {"vector": list(vector), "k": k, "filter": visibility(filters)}}
    return {"size": k, "query": {"knn": clause}, "_source": {"excludes": list(SOURCE_EXCLUDES)}}


def item_query(item_key: str, size: int, *, with_vectors: bool) -> SearchBody:
    body: SearchBody = {"size": size, "query": {"bool": {"filter": [term("item_key", item_key)]}}}
    if not with_vectors:
        body["_source"] = {"excludes": list(SOURCE_EXCLUDES)}
    return body


def count_query() -> CountBody:
    return {"query": {"bool": {"must_not": list(NOT_DELETED)}}}


def item_keys_query(page: int, after: dict[str, Any] | None) -> SearchBody:
    composite: dict[str, Any] = {"size": page, "sources": [{"item_key": {"terms": {"field": "item_key"}}}]}
    if after is not None:
        composite["after"] = after
    return {
        "size": 0,
        "track_total_hits": False,
        "query": {"bool": {"must_not": list(NOT_DELETED)}},
        "aggs": {"items": {"composite": composite}},
    }


def term_frequencies_query(terms: Sequence[str], filters: Filters | None = None) -> SearchBody:
    """One size-0 search answering how many live chunks the filters let the asker see
    (``hits.total``, counted exactly) and how many of them hold each term: a ``filters``
    aggregation with one anonymous ``term`` filter per term on the keyword field, whose buckets
    come back in the order of the filters. The query is the reads' own visibility, so chunks the
    asker may not see count nowhere.
    https://docs.opensearch.org/latest/aggregations/bucket/filters/"""
    query = visibility(filters or Filters())
    if not query["bool"]["filter"]:
        del query["bool"]["filter"]
    body: SearchBody = {"size": 0, "track_total_hits": True, "query": query}
    if terms:
        body["aggs"] = {"df": {"filters": {"filters": [term(TOKENS_FIELD, t) for t in terms]}}}
    return body


def alias_actions(alias: str, new_index: str, old_indices: Sequence[str]) -> AliasesBody:
    """One ``_aliases`` request: OpenSearch applies all its actions atomically."""
    actions: list[AliasAction] = [{"remove": {"index": old, "alias": alias}} for old in old_indices]
    actions.append({"add": {"index": new_index, "alias": alias}})
    return {"actions": actions}


# -- documents and bulk ------------------------------------------------------------------------
def cosine(score: float) -> float:
    """The cosine similarity behind a k-NN hit's ``_score`` on this mapping (faiss,
    ``innerproduct``). OpenSearch documents faiss inner-product scores with ``d = -(x . y)``:
    ``1 / (1 + d)`` when ``d >= 0`` and ``-d + 1`` below, so ``1 + ip`` for ``ip > 0`` and
    ``1 / (1 - ip)`` otherwise, always positive, ``1.0`` for orthogonal vectors
    (https://docs.opensearch.org/latest/mappings/supported-field-types/knn-spaces/). This
    inverts it. The store L2-normalizes every vector it writes and every query vector, whatever
    KOTAE_EMBEDDING_NORMALIZE says, so the inner product is the cosine the embedded store
    returns, and relevance reads both alike (passed on unread, ``_score`` would be 1.0 for
    unrelated text and gate nothing)."""
    if score >= 1.0:
        return score - 1.0
    return 1.0 - 1.0 / score if score > 0 else -1.0  # a score is never <= 0; -1 is the floor


def normalized(vector: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [float(x) / norm for x in vector]


def chunk_source(
    doc: Document, version: str | None, vector: Sequence[float] | None, write: str
) -> dict[str, Any]:
    """The stored form of a chunk, stamped with its write (see opensearch_copies). Without a
    vector, ``has_vector`` is left out so that a partial update keeps both the stored vector and
    its flag."""
    source = doc.model_dump()
    source[TOKENS_FIELD] = sorted(set(tokenize(f"{doc.title}\n{doc.text}")))
    source["version"] = version
    source[WRITE_FIELD] = write
    source["deleted"] = False
    if vector is not None:
        source[VECTOR_FIELD] = list(vector)
        source["has_vector"] = True
    return source


def tombstone_source(item_key: str, version: str | None, write: str) -> dict[str, Any]:
    chunk_id = item_key + TOMBSTONE_SUFFIX
    return {
        "item_key": item_key,
        "chunk_id": chunk_id,
        "version": version,
        WRITE_FIELD: write,
        "deleted": True,
    }


def document_from_source(source: dict[str, Any]) -> Document:
    return Document.model_validate({k: v for k, v in source.items() if k in Document.model_fields})


@dataclass(frozen=True)
class BulkAction:
    """One bulk operation. ``label`` names it in errors (the chunk id, not an opaque _id)."""

    op: Literal["index", "update", "delete"]
    label: str
    id: str | None = None
    source: dict[str, Any] | None = field(default=None, compare=False)

    def lines(self) -> list[dict[str, Any]]:
        meta: dict[str, Any] = {} if self.id is None else {"_id": self.id}
        if self.op == "delete":
            return [{"delete": meta}]
        if self.op == "update":
            return [{"update": meta}, {"doc": self.source, "doc_as_upsert": True}]
        return [{"index": meta}, self.source or {}]


def ndjson(actions: Sequence[BulkAction]) -> str:
    """The bulk body: one JSON object per line, every line (the last too) ending in a newline."""
    lines = [line for action in actions for line in action.lines()]
    return "".join(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n" for line in lines)


# -- answers -----------------------------------------------------------------------------------
Hit = dict[str, Any]


def is_stale(hits: Sequence[Hit], version: str | None) -> bool:
    """True when a stored chunk or tombstone of the item has a newer version than ``version``."""
    return any(is_older(version, h["_source"].get("version")) for h in hits)


def item_state(hits: Sequence[Hit]) -> ItemState | None:
    """What the item's newest write stored (documents of older writes awaiting deletion are not
    the item's)."""
    hits = current(hits)
    if not hits:
        return None
    tombstone = next((h["_source"] for h in hits if h["_source"].get("deleted")), None)
    chunks = [h["_source"] for h in hits if not h["_source"].get("deleted")]
    return ItemState(
        version=tombstone["version"] if tombstone else chunks[0].get("version"),
        documents={s["chunk_id"]: document_from_source(s) for s in chunks},
        has_vector={s["chunk_id"]: bool(s.get("has_vector")) for s in chunks},
        deleted=tombstone is not None,
    )


def term_frequencies(terms: Sequence[str], response: dict[str, Any]) -> tuple[int, dict[str, int]]:
    """The answer to term_frequencies_query: (live chunks, {term: chunks holding it})."""
    buckets = response["aggregations"]["df"]["buckets"] if terms else []
    counts = {t: int(b["doc_count"]) for t, b in zip(terms, buckets, strict=True) if b["doc_count"]}
    return int(response["hits"]["total"]["value"]), counts


def bulk_failures(
    actions: Sequence[BulkAction], response: dict[str, Any], retryable: frozenset[int]
) -> tuple[list[BulkAction], list[str]]:
    """Split a bulk answer's failed items into (actions to retry, descriptions of the others).

    The answer lists one item per action, in order: ``{"index": {"_id", "status", "error"}}``.
    An item's error reason can quote the document's values (a mapper error previews the field's
    value), so only its type and a redacted reason are kept (opensearch_client.error_summary).
    """
    retry, failed = [], []
    for action, item in zip(actions, response.get("items", []), strict=False):
        result = next(iter(item.values()))
        error = result.get("error")
        if error is None:
            continue
        if result.get("status") in retryable:
            retry.append(action)
        else:
            failed.append(
                f"{action.label} ({action.op}, status {result.get('status')}, {error_summary(error)})"
            )
    return retry, failed
