"""The in-memory index behind the OpenSearch stand-in: mapping checks and query evaluation.

Only the query shapes kotae's store emits are understood (bool/filter/must/must_not, term,
terms, exists, match_all, multi_match, knn with a filter; the aggregations of
:mod:`.opensearch_aggs`); anything else is a 400 ``parsing_exception``, as a real cluster answers an unknown query or
aggregation. ``hits.total`` follows ``track_total_hits`` (exact up to 10,000 by default, then a
``gte`` lower bound), keyword values longer than a field's ``ignore_above`` are not indexed, and
``PUT <index>/_mapping`` adds fields but refuses to change a mapped one. Text matching uses
:func:`kotae.text.tokenize` as a naive analyzer; a multi_match scores the number of query tokens
a document's fields contain. knn scores follow the faiss innerproduct rule of the k-NN plugin.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from kotae.text import tokenize
from tests.standins import opensearch_aggs as aggs


class ApiError(Exception):
    """An error answered with the documented body: {"error": {"type", "reason"}, "status"}."""

    def __init__(self, status: int, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.kind, self.reason = status, kind, reason

    def body(self) -> dict[str, Any]:
        cause = {"type": self.kind, "reason": self.reason}
        return {"error": {"root_cause": [cause], **cause}, "status": self.status}


# https://docs.opensearch.org/latest/api-reference/search-apis/search/ (track_total_hits)
DEFAULT_TRACK_TOTAL_HITS = 10_000
# Mapping parameters PUT _mapping may change on an existing field (the rest need a new index).
UPDATABLE_PARAMETERS = frozenset({"ignore_above"})


def index_not_found(name: str) -> ApiError:
    return ApiError(404, "index_not_found_exception", f"no such index [{name}]")


@dataclass
class Index:
    name: str
    settings: dict[str, Any]
    mappings: dict[str, Any]
    docs: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def properties(self) -> dict[str, Any]:
        return self.mappings.get("properties", {})

    def put_mapping(self, body: dict[str, Any]) -> None:
        """Add new fields; a mapped field keeps its type and all but its updatable parameters."""
        for name, spec in body.get("properties", {}).items():
            old = self.properties.get(name)
            if old is not None and old.get("type") != spec.get("type"):
                raise ApiError(
                    400,
                    "illegal_argument_exception",
                    f"mapper [{name}] cannot be changed from type [{old.get('type')}] to [{spec.get('type')}]",
                )
            changed = {k for k in {*old, *spec} if old.get(k) != spec.get(k)} if old is not None else set()
            if changed - UPDATABLE_PARAMETERS:
                raise ApiError(
                    400, "illegal_argument_exception", f"Mapper for [{name}] conflicts with existing mapper"
                )
        self.mappings.setdefault("properties", {}).update(body.get("properties", {}))

    def indexed(self, name: str, src: dict[str, Any]) -> list[Any]:
        """The values of a field a query can match: all of them, less keywords over ignore_above."""
        limit = self.properties.get(name, {}).get("ignore_above")
        values = _values(src.get(name))
        return values if limit is None else [v for v in values if not isinstance(v, str) or len(v) <= limit]

    # -- writes ------------------------------------------------------------------------------
    def check(self, source: dict[str, Any]) -> None:
        """Reject what a strict mapping rejects: unknown fields, wrong types, wrong dimension."""
        for name, value in source.items():
            spec = self.properties.get(name)
            if spec is None:
                if self.mappings.get("dynamic") == "strict":
                    raise ApiError(
                        400,
                        "strict_dynamic_mapping_exception",
                        f"mapping set to strict, dynamic introduction of [{name}] is not allowed",
                    )
                continue
            if value is None:
                continue
            kind = spec["type"]
            values = value if isinstance(value, list) and kind != "knn_vector" else [value]
            if not all(_fits(spec, v) for v in values):
                raise ApiError(
                    400, "mapper_parsing_exception", f"failed to parse field [{name}] of type [{kind}]"
                )

    def apply(self, op: str, doc_id: str | None, payload: dict[str, Any] | None) -> tuple[str, int, str]:
        """One bulk action; returns (_id, status, result)."""
        if op in ("index", "create"):
            assert payload is not None
            self.check(payload)
            doc_id = doc_id or uuid.uuid4().hex
            if op == "create" and doc_id in self.docs:
                raise ApiError(409, "version_conflict_engine_exception", f"[{doc_id}]: already exists")
            existed = doc_id in self.docs
            self.docs[doc_id] = dict(payload)
            return doc_id, 200 if existed else 201, "updated" if existed else "created"
        if doc_id is None:
            raise ApiError(400, "action_request_validation_exception", "Validation Failed: 1: id is missing;")
        if op == "delete":
            found = self.docs.pop(doc_id, None) is not None
            return doc_id, 200 if found else 404, "deleted" if found else "not_found"
        assert payload is not None  # update
        merged = {**self.docs.get(doc_id, {}), **(payload.get("doc") or {})}
        if doc_id not in self.docs and not payload.get("doc_as_upsert"):
            raise ApiError(404, "document_missing_exception", f"[{doc_id}]: document missing")
        self.check(merged)
        existed = doc_id in self.docs
        self.docs[doc_id] = merged
        return doc_id, 200 if existed else 201, "updated" if existed else "created"

    # -- reads -------------------------------------------------------------------------------
    def search(self, body: dict[str, Any]) -> dict[str, Any]:
        query = body.get("query", {"match_all": {}})
        _validate(query)
        scored = [(i, s) for i, src in self.docs.items() if (s := self.score(query, src)) is not None]
        if "knn" in query:
            scored.sort(key=lambda x: -x[1])
            scored = scored[: next(iter(query["knn"].values()))["k"]]
        scored.sort(key=lambda x: -x[1])
        size = body.get("size", 10)
        hits = [self.hit(doc_id, s, body.get("_source", True)) for doc_id, s in scored[:size]]
        response: dict[str, Any] = {
            "took": 1,
            "timed_out": False,
            "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            "hits": {"max_score": max((s for _, s in scored), default=None), "hits": hits},
        }
        total = _total(len(scored), body.get("track_total_hits", DEFAULT_TRACK_TOTAL_HITS))
        if total is not None:
            response["hits"]["total"] = total
        if "aggs" in body:
            response["aggregations"] = aggs.aggregations(self, body["aggs"], scored)
        return response

    def hit(self, doc_id: str, score: float, source_filter: Any) -> dict[str, Any]:
        source = dict(self.docs[doc_id])
        if isinstance(source_filter, dict):
            if "includes" in source_filter:
                source = {k: v for k, v in source.items() if k in source_filter["includes"]}
            for name in source_filter.get("excludes", []):
                source.pop(name, None)
        out: dict[str, Any] = {"_index": self.name, "_id": doc_id, "_score": score}
        if source_filter is not False:
            out["_source"] = source
        return out

    def score(self, query: dict[str, Any], src: dict[str, Any]) -> float | None:
        """None when the document does not match; else its score."""
        ((kind, spec),) = query.items()
        if kind == "match_all":
            return 1.0
        if kind == "term":
            ((name, value),) = spec.items()
            return 0.0 if value in self.indexed(name, src) else None
        if kind == "terms":
            ((name, values),) = spec.items()
            return 0.0 if set(values) & set(self.indexed(name, src)) else None
        if kind == "exists":
            return 0.0 if src.get(spec["field"]) is not None else None
        if kind == "bool":
            if any(self.score(c, src) is None for c in spec.get("filter", [])):
                return None
            total = 0.0
            for clause in spec.get("must", []):
                s = self.score(clause, src)
                if s is None:
                    return None
                total += s
            if any(self.score(c, src) is not None for c in spec.get("must_not", [])):
                return None
            return total
        if kind == "multi_match":
            words = set(tokenize(spec["query"]))
            text = " ".join(str(src.get(f.split("^")[0].split(".")[0]) or "") for f in spec["fields"])
            hits = len(words & set(tokenize(text)))
            return float(hits) if hits else None
        ((name, knn),) = spec.items()  # knn: the one kind left after _validate
        vector = src.get(name)
        if vector is None or ("filter" in knn and self.score(knn["filter"], src) is None):
            return None
        if len(vector) != len(knn["vector"]):
            raise ApiError(400, "illegal_argument_exception", "query vector has invalid dimension")
        ip = sum(a * b for a, b in zip(vector, knn["vector"], strict=True))
        return 1 + ip if ip >= 0 else 1 / (1 - ip)


def _validate(query: dict[str, Any]) -> None:
    """Refuse, as a cluster would, a query kind the stand-in does not know (anywhere in the tree)."""
    ((kind, spec),) = query.items()
    if kind not in ("match_all", "term", "terms", "exists", "bool", "multi_match", "knn"):
        raise ApiError(400, "parsing_exception", f"unknown query [{kind}]")
    children = []
    if kind == "bool":
        children = [c for key in ("must", "filter", "must_not") for c in spec.get(key, [])]
    if kind == "knn":
        children = [f for clause in spec.values() if (f := clause.get("filter"))]
    for child in children:
        _validate(child)


def _total(count: int, track: bool | int) -> dict[str, Any] | None:
    """hits.total for ``track_total_hits``: exact (true), absent (false), or exact up to a bound."""
    if track is True:
        return {"value": count, "relation": "eq"}
    if track is False:
        return None
    return {"value": min(count, track), "relation": "eq" if count <= track else "gte"}


def _fits(spec: dict[str, Any], value: Any) -> bool:
    kind = spec["type"]
    if kind == "knn_vector":
        return isinstance(value, list) and len(value) == spec["dimension"]
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, bool if kind == "boolean" else str)


def _values(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
