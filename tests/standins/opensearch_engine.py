"""The in-memory index behind the OpenSearch stand-in: documents, query evaluation and sorting.

Search and count bodies are checked first against the documented shapes (:mod:`.opensearch_shapes`),
so only the query kinds the stand-in evaluates get here: bool (filter/must/must_not/should with
``minimum_should_match``), term, terms, range (gt/gte/lt/lte; dates compared as instants), prefix,
exists, match_all, multi_match, combined_fields and match_phrase (BM25, :mod:`.opensearch_text`),
knn with a filter; and the aggregations of :mod:`.opensearch_aggs`.
Fields are looked up through the mapping (:mod:`.opensearch_mapping`): dotted paths into objects,
keywords over ``ignore_above`` and malformed dates not indexed, unmapped fields matching nothing.
``hits.total`` follows ``track_total_hits`` (exact up to 10,000 by default, then a ``gte`` lower
bound). ``sort`` orders by fields (``order`` asc by default, ``missing`` ``_last`` by default,
a multi-valued field by its smallest value ascending and largest descending) or ``_score``; a
sorted hit carries its ``sort`` values and, unless sorted by score, a null ``_score``. Text
matching uses :func:`kotae.text.tokenize` as a naive analyzer; a multi_match scores the number of
query tokens a document's fields contain. knn scores are those the k-NN documentation gives for
the field's space type and engine (:mod:`.opensearch_knn`).
https://docs.opensearch.org/latest/search-plugins/searching-data/sort/
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field
from typing import Any

from kotae.text import tokenize
from tests.standins import opensearch_aggs as aggs
from tests.standins import opensearch_knn as knn_scores
from tests.standins import opensearch_shapes as shapes
from tests.standins import opensearch_text as full_text
from tests.standins.opensearch_errors import ApiError, index_not_found
from tests.standins.opensearch_mapping import Mapping, epoch_millis

__all__ = ["ApiError", "Index", "index_not_found"]

# https://docs.opensearch.org/latest/api-reference/search-apis/search/ (track_total_hits)
DEFAULT_TRACK_TOTAL_HITS = 10_000
# What a numeric or date sort puts in a hit's sort values for a missing field (Long.MIN/MAX_VALUE).
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1


@dataclass
class Index:
    name: str
    settings: dict[str, Any]
    mapping: Mapping
    docs: dict[str, dict[str, Any]] = field(default_factory=dict)
    text: Any = field(default=None, repr=False, compare=False)  # full-text statistics (a request's)

    @property
    def mappings(self) -> dict[str, Any]:
        return self.mapping.root

    def put_mapping(self, body: dict[str, Any]) -> None:
        self.mapping.merge(body)

    def indexed(self, name: str, src: dict[str, Any]) -> list[Any]:
        return self.mapping.values(name, src)

    # -- writes ------------------------------------------------------------------------------
    def apply(self, op: str, doc_id: str | None, payload: dict[str, Any] | None) -> tuple[str, int, str]:
        """One bulk action; returns (_id, status, result)."""
        if op in ("index", "create"):
            assert payload is not None
            self.mapping.check(payload)
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
        self.mapping.check(merged)
        existed = doc_id in self.docs
        self.docs[doc_id] = merged
        return doc_id, 200 if existed else 201, "updated" if existed else "created"

    # -- reads -------------------------------------------------------------------------------
    def count(self, body: dict[str, Any]) -> int:
        shapes.check_count(body)
        query = body.get("query", {"match_all": {}})
        self.text = full_text.TextFields(self)  # statistics of this request, computed once
        return sum(1 for src in self.docs.values() if self.score(query, src) is not None)

    def search(self, body: dict[str, Any]) -> dict[str, Any]:
        shapes.check_search(body)
        query = body.get("query", {"match_all": {}})
        self.text = full_text.TextFields(self)
        scored = [(i, s) for i, src in self.docs.items() if (s := self.score(query, src)) is not None]
        scored.sort(key=lambda x: -x[1])
        if "knn" in query:
            scored = scored[: next(iter(query["knn"].values())).get("k", 10)]
        sort = _sort_specs(body.get("sort"))
        by_score = all(name == "_score" for name, _, _ in sort)
        if sort:
            scored.sort(key=functools.cmp_to_key(lambda a, b: self._compare(sort, a, b)))
        hits = []
        for doc_id, s in scored[: body.get("size", 10)]:
            hit = self.hit(doc_id, s if by_score else None, body.get("_source", True))
            if sort:
                hit["sort"] = [self._sort_value(spec, doc_id, s) for spec in sort]
            hits.append(hit)
        max_score = max((s for _, s in scored), default=None) if by_score else None
        response: dict[str, Any] = {
            "took": 1,
            "timed_out": False,
            "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            "hits": {"max_score": max_score, "hits": hits},
        }
        total = _total(len(scored), body.get("track_total_hits", DEFAULT_TRACK_TOTAL_HITS))
        if total is not None:
            response["hits"]["total"] = total
        for key in ("aggs", "aggregations"):
            if key in body:
                response["aggregations"] = aggs.aggregations(self, body[key], scored)
        return response

    def hit(self, doc_id: str, score: float | None, source_filter: Any) -> dict[str, Any]:
        source = dict(self.docs[doc_id])
        if isinstance(source_filter, str | list):
            source_filter = {"includes": [source_filter] if isinstance(source_filter, str) else source_filter}
        if isinstance(source_filter, dict):
            if "includes" in source_filter:
                source = {k: v for k, v in source.items() if k in source_filter["includes"]}
            for name in source_filter.get("excludes", []):
                source.pop(name, None)
        out: dict[str, Any] = {"_index": self.name, "_id": doc_id, "_score": score}
        if source_filter is not False:
            out["_source"] = source
        return out

    # -- sorting -----------------------------------------------------------------------------
    def _field_sort_value(self, name: str, order: str, doc_id: str) -> Any:
        values = self.indexed(name, self.docs[doc_id])
        if not values:
            return None
        return min(values) if order == "asc" else max(values)

    def _compare(self, sort: list[tuple[str, str, str]], a: tuple[str, float], b: tuple[str, float]) -> int:
        for name, order, missing in sort:
            if name == "_score":
                va, vb = a[1], b[1]
            else:
                va, vb = (self._field_sort_value(name, order, d) for d, _ in (a, b))
            if va == vb:
                continue
            if va is None or vb is None:
                first_missing = -1 if missing == "_first" else 1
                return first_missing if va is None else -first_missing
            sign = 1 if va > vb else -1
            return sign if order == "asc" else -sign
        return 0

    def _sort_value(self, spec: tuple[str, str, str], doc_id: str, score: float) -> Any:
        name, order, missing = spec
        if name == "_score":
            return score
        value = self._field_sort_value(name, order, doc_id)
        field_spec = self.mapping.field(name) or {}
        if value is None and field_spec.get("type") in ("date", "integer", "long", "float"):
            low = (order == "desc") == (missing == "_last")
            return LONG_MIN if low else LONG_MAX
        return value

    # -- queries -----------------------------------------------------------------------------
    def score(self, query: dict[str, Any], src: dict[str, Any]) -> float | None:
        """None when the document does not match; else its score."""
        ((kind, spec),) = query.items()
        if kind == "match_all":
            return 1.0
        if kind in ("term", "terms", "range", "prefix"):
            ((name, condition),) = ((k, v) for k, v in spec.items() if k not in ("boost", "_name"))
            return 0.0 if self._matches(kind, name, condition, src) else None
        if kind == "exists":
            return 0.0 if self.indexed(spec["field"], src) else None
        if kind == "bool":
            return self._bool(spec, src)
        if kind in ("combined_fields", "match_phrase"):
            return getattr(full_text, kind)(self.text, spec, src)
        if kind == "multi_match":
            words = set(tokenize(str(spec["query"])))
            fields = [spec["fields"]] if isinstance(spec["fields"], str) else spec["fields"]
            text = " ".join(str(src.get(f.split("^")[0].split(".")[0]) or "") for f in fields)
            hits = len(words & set(tokenize(text)))
            return float(hits) if hits else None
        ((name, knn),) = spec.items()  # knn: the one kind left after the shape check
        vector = src.get(name)
        if vector is None or ("filter" in knn and self.score(knn["filter"], src) is None):
            return None
        if len(vector) != len(knn["vector"]):
            raise ApiError(400, "illegal_argument_exception", "query vector has invalid dimension")
        return knn_scores.score(self.mapping.field(name) or {}, vector, knn["vector"])

    def _bool(self, spec: dict[str, Any], src: dict[str, Any]) -> float | None:
        if any(self.score(c, src) is None for c in _clauses(spec, "filter")):
            return None
        if any(self.score(c, src) is not None for c in _clauses(spec, "must_not")):
            return None
        total = 0.0
        for clause in _clauses(spec, "must"):
            s = self.score(clause, src)
            if s is None:
                return None
            total += s
        should = [s for c in _clauses(spec, "should") if (s := self.score(c, src)) is not None]
        # With no must or filter clause one should clause is required, else none (the default).
        default = 0 if _clauses(spec, "must") or _clauses(spec, "filter") else 1
        needed = spec.get("minimum_should_match", default if _clauses(spec, "should") else 0)
        if not isinstance(needed, int):
            raise ApiError(400, "parsing_exception", "the stand-in models an integer minimum_should_match only")
        return total + sum(should) if len(should) >= needed else None

    def _matches(self, kind: str, name: str, condition: Any, src: dict[str, Any]) -> bool:
        values = self.indexed(name, src)
        field_spec = self.mapping.field(name) or {}
        if isinstance(condition, dict) and kind in ("term", "prefix"):
            condition = condition["value"]
        if kind == "term":
            return _as_indexed(field_spec, condition) in values
        if kind == "terms":
            return bool({_as_indexed(field_spec, v) for v in condition} & set(values))
        if kind == "prefix":
            return any(isinstance(v, str) and v.startswith(condition) for v in values)
        bounds = {
            op: _as_indexed(field_spec, bound, round_up=op in ("gt", "lte"))
            for op, bound in condition.items()
            if op not in ("boost", "_name")
        }
        checks = {"gt": lambda v, b: v > b, "gte": lambda v, b: v >= b, "lt": lambda v, b: v < b, "lte": lambda v, b: v <= b}
        return any(all(checks[op](v, b) for op, b in bounds.items()) for v in values)


def _as_indexed(field_spec: dict[str, Any], value: Any, *, round_up: bool = False) -> Any:
    """A query value as the field indexes it (a date as epoch milliseconds, missing components of
    a ``gt``/``lte`` bound rounded up)."""
    if field_spec.get("type") != "date":
        return value
    millis = epoch_millis(value, round_up=round_up)
    if millis is None:
        raise ApiError(400, "parse_exception", f"failed to parse date field [{value}]")
    return millis


def _clauses(spec: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = spec.get(key, [])
    return value if isinstance(value, list) else [value]


def _sort_specs(sort: Any) -> list[tuple[str, str, str]]:
    """(field, order, missing) per sort entry: ``"field"``, ``{field: order}`` or ``{field: {...}}``."""
    out = []
    for entry in [] if sort is None else sort if isinstance(sort, list) else [sort]:
        name, options = (entry, {}) if isinstance(entry, str) else next(iter(entry.items()))
        options = {"order": options} if isinstance(options, str) else options
        default = "desc" if name == "_score" else "asc"
        out.append((name, options.get("order", default), options.get("missing", "_last")))
    return out


def _total(count: int, track: bool | int) -> dict[str, Any] | None:
    """hits.total for ``track_total_hits``: exact (true), absent (false), or exact up to a bound."""
    if track is True:
        return {"value": count, "relation": "eq"}
    if track is False:
        return None
    return {"value": min(count, track), "relation": "eq" if count <= track else "gte"}
