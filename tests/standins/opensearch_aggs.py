"""Aggregations of the OpenSearch stand-in, as documented (https://docs.opensearch.org/latest/
aggregations/): ``composite`` (one terms source, ``after`` paging), ``filters`` (anonymous or
named), ``terms`` (``size``, ``order`` by ``_key`` or ``_count``, ``missing``, ``include`` as an
array of values, ``min_doc_count``, ``sum_other_doc_count``) and ``top_hits`` (``size``,
``_source``). Bodies reach them checked against the documented shapes (opensearch_shapes). Bucket aggregations run their
``aggs`` again over each bucket's documents; a metric aggregation takes none.

Each works on the (document id, score) pairs the search query matched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tests.standins.opensearch_errors import ApiError

if TYPE_CHECKING:
    from tests.standins.opensearch_engine import Index

Matched = list[tuple[str, float]]
SUB_KEYS = ("aggs", "aggregations")


def aggregations(index: Index, specs: dict[str, Any], matched: Matched) -> dict[str, Any]:
    return {name: aggregate(index, spec, matched) for name, spec in specs.items()}


def aggregate(index: Index, spec: dict[str, Any], matched: Matched) -> dict[str, Any]:
    """One aggregation of a body whose shape was checked (opensearch_shapes)."""
    sub = next((spec[k] for k in SUB_KEYS if k in spec), {})
    ((kind, body),) = ((k, v) for k, v in spec.items() if k not in (*SUB_KEYS, "meta"))
    if sub and kind == "top_hits":
        raise ApiError(
            400, "aggregation_initialization_exception", "Aggregator [top_hits] cannot accept sub-aggregations"
        )
    return AGGREGATIONS[kind](index, body, matched, sub)


def _bucket(index: Index, bucket: dict[str, Any], docs: Matched, sub: dict[str, Any]) -> dict[str, Any]:
    bucket["doc_count"] = len(docs)
    bucket.update(aggregations(index, sub, docs))
    return bucket


def filters(index: Index, spec: dict[str, Any], matched: Matched, sub: dict[str, Any]) -> dict[str, Any]:
    """One bucket per filter: an array of filters answers an array of buckets in their order, an
    object of named filters an object of buckets by name."""
    named = spec["filters"]

    def bucket(query: dict[str, Any]) -> dict[str, Any]:
        docs = [(d, s) for d, s in matched if index.score(query, index.docs[d]) is not None]
        return _bucket(index, {}, docs, sub)

    if isinstance(named, dict):
        return {"buckets": {name: bucket(query) for name, query in named.items()}}
    return {"buckets": [bucket(query) for query in named]}


def terms(index: Index, spec: dict[str, Any], matched: Matched, sub: dict[str, Any]) -> dict[str, Any]:
    """A bucket per distinct value of the field (each value of a multi-valued one), ``missing``
    standing in for documents without it, only values listed in an ``include`` array, buckets of
    at least ``min_doc_count`` (1) documents; ordered by doc_count descending, then key (default),
    or by ``_key``/``_count``; the first ``size`` (default 10) kept and the documents of the rest
    counted in ``sum_other_doc_count``."""
    include = spec.get("include")
    if isinstance(include, str | dict) or spec.get("min_doc_count", 1) < 1 or isinstance(spec.get("order"), list):
        raise ApiError(400, "parsing_exception", "the stand-in models include arrays, min_doc_count >= 1, one order")
    groups: dict[Any, Matched] = {}
    for doc_id, score in matched:
        values = index.indexed(spec["field"], index.docs[doc_id])
        if not values and "missing" in spec:
            values = [spec["missing"]]
        for value in dict.fromkeys(values):
            if include is None or value in include:
                groups.setdefault(value, []).append((doc_id, score))
    groups = {k: v for k, v in groups.items() if len(v) >= spec.get("min_doc_count", 1)}
    ((by, direction),) = (spec.get("order") or {"_count": "desc"}).items()
    if by not in ("_key", "_count"):
        raise ApiError(400, "aggregation_execution_exception", f"Invalid aggregation order path [{by}]")
    if by == "_key":
        keys = sorted(groups, reverse=direction == "desc")
    else:
        sign = -1 if direction == "desc" else 1
        keys = sorted(groups, key=lambda k: (sign * len(groups[k]), k))
    kept = keys[: spec.get("size", 10)]
    other = sum(len(groups[k]) for k in keys[len(kept) :])
    buckets = [_bucket(index, {"key": k}, groups[k], sub) for k in kept]
    return {"doc_count_error_upper_bound": 0, "sum_other_doc_count": other, "buckets": buckets}


def top_hits(index: Index, spec: dict[str, Any], matched: Matched, sub: dict[str, Any]) -> dict[str, Any]:
    """The bucket's best documents by score (``size``, default 3), ``_source`` filtered."""
    ranked = sorted(matched, key=lambda pair: -pair[1])[: spec.get("size", 3)]
    return {
        "hits": {
            "total": {"value": len(matched), "relation": "eq"},
            "max_score": max((score for _, score in matched), default=None),
            "hits": [index.hit(doc_id, score, spec.get("_source", True)) for doc_id, score in ranked],
        }
    }


def composite(index: Index, spec: dict[str, Any], matched: Matched, sub: dict[str, Any]) -> dict[str, Any]:
    ((name, source),) = spec["sources"][0].items()
    counts: dict[str, int] = {}
    for doc_id, _ in matched:
        for value in dict.fromkeys(index.indexed(source["terms"]["field"], index.docs[doc_id])):
            counts[value] = counts.get(value, 0) + 1
    after = (spec.get("after") or {}).get(name)
    keys = sorted(k for k in counts if after is None or k > after)[: spec.get("size", 10)]
    out: dict[str, Any] = {"buckets": [{"key": {name: k}, "doc_count": counts[k]} for k in keys]}
    if keys:
        out["after_key"] = {name: keys[-1]}
    return out


AGGREGATIONS: dict[str, Callable[[Index, dict[str, Any], Matched, dict[str, Any]], dict[str, Any]]] = {
    "composite": composite,
    "filters": filters,
    "terms": terms,
    "top_hits": top_hits,
}
