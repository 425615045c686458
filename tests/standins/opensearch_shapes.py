"""Request-body checks of the OpenSearch stand-in, written from the published API specification
(opensearch-project/opensearch-api-specification: ``spec/namespaces/_core.yaml`` SearchRequestBody,
``spec/schemas/_common.query_dsl.yaml`` QueryContainer, ``_common.aggregations.yaml``
AggregationContainer, ``_common.yaml`` Sort, ``_common.mapping.yaml`` TypeMapping and Property).

Every object lists the keys the specification documents for it. A key it does not document is
refused as a cluster refuses it (400 ``x_content_parse_exception``, ``mapper_parsing_exception``
for mappings), and so is a value of the wrong JSON type. A documented key that the stand-in does
not evaluate is refused too, with a message saying so, so that no test can pass because the
stand-in ignored part of a body. Query kinds and aggregation types outside the modelled ones are
``parsing_exception``, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from tests.standins.opensearch_errors import ApiError

Shape = Callable[[Any, str], None]


class ShapeError(ApiError):
    """A body that does not fit its documented shape, at ``path``."""

    def __init__(self, path: str, reason: str, kind: str = "x_content_parse_exception") -> None:
        super().__init__(400, kind, f"[{path}] {reason}")
        self.path = path


def _fail(path: str, reason: str, kind: str = "x_content_parse_exception") -> ShapeError:
    return ShapeError(path, reason, kind)


def kind(*types: type) -> Shape:
    """A JSON value of one of these Python types (a bool is no number)."""

    def check(value: Any, path: str) -> None:
        if isinstance(value, bool) and bool not in types:
            raise _fail(path, f"expected {'/'.join(t.__name__ for t in types)}, got a boolean")
        if not isinstance(value, types):
            raise _fail(path, f"expected {'/'.join(t.__name__ for t in types)}, got {type(value).__name__}")

    return check


STRING, INTEGER, BOOLEAN = kind(str), kind(int), kind(bool)
NUMBER = kind(int, float)
FIELD_VALUE = kind(bool, int, float, str, type(None))  # _common.yaml FieldValue
FIELDS = kind(str, list)  # _common.yaml Fields: a field or a list of fields


def enum(*values: Any) -> Shape:
    def check(value: Any, path: str) -> None:
        if value not in values:
            raise _fail(path, f"{value!r} is not one of {', '.join(map(str, values))}")

    return check


def one_of(*shapes: Shape) -> Shape:
    """The first shape the value fits; else the error of the form it fitted furthest into (the
    deepest path), so that a bad query inside a list reads as that query's error."""

    def check(value: Any, path: str) -> None:
        errors: list[ShapeError] = []
        for shape in shapes:
            try:
                shape(value, path)
                return
            except ShapeError as exc:
                errors.append(exc)
        deepest = max(errors, key=lambda e: len(e.path))
        if deepest.path != path:
            raise deepest
        raise _fail(path, "fits none of its documented forms: " + "; ".join(e.reason for e in errors))

    return check


def list_of(shape: Shape) -> Shape:
    def check(value: Any, path: str) -> None:
        kind(list)(value, path)
        for i, item in enumerate(value):
            shape(item, f"{path}[{i}]")

    return check


def map_of(shape: Shape, *, at_most_one: bool = False) -> Shape:
    """An object of any keys (field or aggregation names) whose values have ``shape``."""

    def check(value: Any, path: str) -> None:
        kind(dict)(value, path)
        if at_most_one and len(value) != 1:
            raise _fail(path, f"expects exactly one field, got {len(value)}")
        for name, item in value.items():
            shape(item, f"{path}.{name}")

    return check


def obj(
    fields: dict[str, Shape],
    *,
    required: Iterable[str] = (),
    unmodelled: Iterable[str] = (),
    error: str = "x_content_parse_exception",
) -> Shape:
    """An object with documented ``fields`` (and documented ``unmodelled`` ones, refused)."""
    needed, skipped = tuple(required), frozenset(unmodelled)

    def check(value: Any, path: str) -> None:
        kind(dict)(value, path)
        for name, item in value.items():
            if name in skipped:
                raise _fail(path, f"[{name}] is documented but the stand-in does not model it", error)
            if name not in fields:
                raise _fail(path, f"unknown field [{name}]", error)
            fields[name](item, f"{path}.{name}")
        for name in needed:
            if name not in value:
                raise _fail(path, f"requires [{name}]", error)

    return check


def lazy(get: Callable[[], Shape]) -> Shape:
    """A shape defined further down (the query DSL and aggregations are recursive)."""
    return lambda value, path: get()(value, path)


def single(kinds: dict[str, Shape], what: str, error: str) -> Shape:
    """A container with exactly one key naming its kind (QueryContainer)."""

    def check(value: Any, path: str) -> None:
        kind(dict)(value, path)
        if len(value) != 1:
            raise _fail(path, f"{what} must have exactly one key", "parsing_exception")
        ((name, body),) = value.items()
        if name not in kinds:
            raise _fail(path, error.format(name=name), "parsing_exception")
        kinds[name](body, f"{path}.{name}")

    return check


# -- query DSL (_common.query_dsl.yaml) ---------------------------------------------------------
BASE = {"boost": NUMBER, "_name": STRING}  # QueryBase
QUERY = lazy(lambda: QUERY_CONTAINER)
QUERIES = one_of(QUERY, list_of(QUERY))
DATE_OR_NUMBER = kind(str, int, float)
TERM = map_of(
    one_of(FIELD_VALUE, obj({**BASE, "value": FIELD_VALUE}, required=["value"], unmodelled=["case_insensitive"])),
    at_most_one=True,
)
RANGE = map_of(
    obj(
        {**BASE, "gt": DATE_OR_NUMBER, "gte": DATE_OR_NUMBER, "lt": DATE_OR_NUMBER, "lte": DATE_OR_NUMBER},
        unmodelled=["from", "to", "include_lower", "include_upper", "format", "time_zone", "relation"],
    ),
    at_most_one=True,
)
PREFIX = map_of(
    one_of(STRING, obj({**BASE, "value": STRING}, required=["value"], unmodelled=["case_insensitive", "rewrite"])),
    at_most_one=True,
)


def _terms_query(value: Any, path: str) -> None:
    """TermsQuery: _name, boost, value_type and exactly one field with an array of values (the
    ``lookup`` form is not modelled)."""
    kind(dict)(value, path)
    options = {k: v for k, v in value.items() if k in ("_name", "boost", "value_type")}
    obj(BASE, unmodelled=["value_type"])(options, path)
    fields = {k: v for k, v in value.items() if k not in options}
    map_of(list_of(FIELD_VALUE), at_most_one=True)(fields, path)


MULTI_MATCH_UNMODELLED = [
    "analyzer", "auto_generate_synonyms_phrase_query", "cutoff_frequency", "fuzziness", "fuzzy_rewrite",
    "fuzzy_transpositions", "lenient", "max_expansions", "minimum_should_match",
    "prefix_length", "slop", "zero_terms_query",
]
QUERY_KINDS: dict[str, Shape] = {
    "bool": obj(
        {**BASE, "filter": QUERIES, "must": QUERIES, "must_not": QUERIES, "should": QUERIES,
         "minimum_should_match": kind(int, str)},
        unmodelled=["adjust_pure_negative"],
    ),
    "term": TERM,
    "terms": _terms_query,
    "range": RANGE,
    "prefix": PREFIX,
    "exists": obj({**BASE, "field": STRING}, required=["field"]),
    "match_all": obj(BASE),
    "multi_match": obj(
        {**BASE, "query": FIELD_VALUE, "fields": FIELDS,
         "type": enum("best_fields", "bool_prefix", "cross_fields", "most_fields", "phrase", "phrase_prefix"),
         "operator": enum("and", "or", "AND", "OR"), "tie_breaker": NUMBER},
        required=["query"],
        unmodelled=MULTI_MATCH_UNMODELLED,
    ),
    # CombinedFieldsQueryBuilder (OpenSearch 3.2+) parses these keys only (no zero_terms_query or
    # auto_generate_synonyms_phrase_query, unlike Elasticsearch's); fields are ``name^boost``.
    "combined_fields": obj(
        {**BASE, "query": STRING, "fields": list_of(STRING), "operator": enum("and", "or", "AND", "OR"),
         "minimum_should_match": kind(int, str)},
        required=["query", "fields"],
    ),
    "match_phrase": map_of(
        one_of(STRING, obj({**BASE, "query": STRING, "slop": INTEGER}, required=["query"],
                           unmodelled=["analyzer", "zero_terms_query"])),
        at_most_one=True,
    ),
    "knn": map_of(
        obj(
            {**BASE, "vector": list_of(NUMBER), "k": INTEGER, "filter": QUERY},
            required=["vector"],
            unmodelled=["min_score", "max_distance", "method_parameters", "rescore", "expand_nested_docs"],
        ),
        at_most_one=True,
    ),
}
QUERY_CONTAINER = single(QUERY_KINDS, "a query", "unknown query [{name}] (or one the stand-in does not model)")

# -- sort and _source (_common.yaml Sort, _core.search.yaml SourceConfig) ------------------------
ORDER = enum("asc", "desc")
FIELD_SORT = obj(
    {"order": ORDER, "missing": enum("_last", "_first")},
    unmodelled=["mode", "nested", "unmapped_type", "numeric_type"],
)
SORT_COMBINATION = one_of(STRING, map_of(one_of(ORDER, FIELD_SORT), at_most_one=True))
SORT = one_of(SORT_COMBINATION, list_of(SORT_COMBINATION))
SOURCE = one_of(BOOLEAN, FIELDS, obj({"includes": FIELDS, "excludes": FIELDS}))

# -- aggregations (_common.aggregations.yaml) ---------------------------------------------------
AGGS = lazy(lambda: map_of(AGGREGATION_CONTAINER))
AGG_ORDER = one_of(map_of(ORDER, at_most_one=True), list_of(map_of(ORDER, at_most_one=True)))
PARTITION = obj({"num_partitions": INTEGER, "partition": INTEGER}, required=["num_partitions", "partition"])
AGGREGATION_TYPES: dict[str, Shape] = {
    "terms": obj(
        {"field": STRING, "size": INTEGER, "order": AGG_ORDER, "missing": FIELD_VALUE, "min_doc_count": INTEGER,
         "include": one_of(STRING, list_of(STRING), PARTITION)},
        required=["field"],
        unmodelled=["collect_mode", "exclude", "execution_hint", "value_type", "shard_size", "shard_min_doc_count",
                    "show_term_doc_count_error", "format", "script"],
    ),
    "filters": obj(
        {"filters": one_of(map_of(QUERY), list_of(QUERY))},
        unmodelled=["other_bucket", "other_bucket_key", "keyed"],
    ),
    "composite": obj(
        {
            "size": INTEGER,
            "after": map_of(FIELD_VALUE),
            "sources": list_of(
                map_of(
                    obj(
                        {"terms": obj({"field": STRING}, unmodelled=["missing_bucket", "missing_order", "script",
                                                                     "value_type", "order"])},
                        unmodelled=["histogram", "date_histogram", "geotile_grid"],
                    ),
                    at_most_one=True,
                )
            ),
        }
    ),
    "top_hits": obj(
        {"size": INTEGER, "_source": SOURCE},
        unmodelled=["docvalue_fields", "explain", "from", "highlight", "script_fields", "sort", "stored_fields",
                    "track_scores", "version", "seq_no_primary_term", "missing", "field", "script"],
    ),
}


def _aggregation_container(value: Any, path: str) -> None:
    """One aggregation type, optionally ``meta`` and sub-aggregations as ``aggs`` or
    ``aggregations`` (never both)."""
    kind(dict)(value, path)
    if "aggs" in value and "aggregations" in value:
        raise _fail(path, "has both [aggs] and [aggregations]", "parsing_exception")
    types = [name for name in value if name not in ("aggs", "aggregations", "meta")]
    if len(types) != 1:
        raise _fail(path, "Expected one aggregation type per aggregation", "parsing_exception")
    if types[0] not in AGGREGATION_TYPES:
        raise _fail(path, f"Unknown aggregation type [{types[0]}] (or not modelled)", "parsing_exception")
    AGGREGATION_TYPES[types[0]](value[types[0]], f"{path}.{types[0]}")
    for key in ("aggs", "aggregations"):
        if key in value:
            AGGS(value[key], f"{path}.{key}")


AGGREGATION_CONTAINER: Shape = _aggregation_container

# -- request bodies -----------------------------------------------------------------------------
SEARCH_BODY = obj(
    {"query": QUERY, "size": INTEGER, "sort": SORT, "_source": SOURCE, "aggs": AGGS, "aggregations": AGGS,
     "track_total_hits": kind(bool, int)},
    unmodelled=["collapse", "explain", "ext", "from", "highlight", "indices_boost", "docvalue_fields",
                "min_score", "post_filter", "profile", "search_pipeline", "verbose_pipeline", "rescore",
                "script_fields", "search_after", "slice", "fields", "suggest", "terminate_after", "timeout",
                "track_scores", "include_named_queries_score", "version", "seq_no_primary_term",
                "stored_fields", "pit", "stats", "derived"],
)
COUNT_BODY = obj({"query": QUERY})


def check_search(body: Any) -> None:
    if "aggs" in body and "aggregations" in body:
        raise ApiError(400, "parsing_exception", "a search body has both [aggs] and [aggregations]")
    SEARCH_BODY(body, "search")


def check_count(body: Any) -> None:
    COUNT_BODY(body, "count")
