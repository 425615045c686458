"""The OpenSearch stand-in itself: it refuses bodies that do not have the documented shapes, and it
answers sorts, ranges, bool clauses, terms aggregations and dynamic mappings as documented, so
that the store tests built on it mean something."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from opensearchpy import OpenSearch, RequestError, RequestsHttpConnection

from tests.standins.opensearch import OpenSearchStandIn

INDEX = "shapes"
MAPPINGS = {
    "dynamic": "strict",
    "dynamic_templates": [{"labels": {"path_match": "labels.*", "mapping": {"type": "keyword"}}}],
    "properties": {
        "name": {"type": "keyword"},
        "n": {"type": "integer"},
        "at": {"type": "date", "ignore_malformed": True},
        "labels": {"type": "object", "dynamic": True},
        "loose": {"type": "object", "dynamic": True},
    },
}
DOCS = [
    {"name": "a", "n": 1, "at": "2026-11-01T10:00:00.000Z", "labels": {"status": "failed", "run": "x"}},
    {"name": "b", "n": 2, "at": "2026-11-02T00:00:00Z", "labels": {"status": "failed"}},
    {"name": "c", "n": 3, "at": "not a date", "labels": {"status": "ok", "run": "y"}},
    {"name": "d", "n": 4, "labels": {"status": "ok", "run": "x"}},
    {"name": "e", "n": 5, "at": 1793491200000},  # epoch milliseconds: 2026-11-01T00:00:00Z
]


@pytest.fixture
def raw() -> Iterator[OpenSearch]:
    with OpenSearchStandIn() as server:
        client = OpenSearch(hosts=[server.url], connection_class=RequestsHttpConnection, max_retries=0, timeout=5)
        client.indices.create(index=INDEX, body={"mappings": MAPPINGS})
        lines: list[dict[str, Any]] = []
        for doc in DOCS:
            lines += [{"index": {"_id": doc["name"]}}, doc]
        assert not client.bulk(body=lines, index=INDEX)["errors"]
        yield client


def names(answer: dict[str, Any]) -> list[str]:
    return [hit["_id"] for hit in answer["hits"]["hits"]]


# -- request shapes ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        pytest.param({"sizes": 1}, "x_content_parse_exception", r"unknown field \[sizes\]", id="unknown-search-key"),
        pytest.param({"size": "10"}, "x_content_parse_exception", "expected int", id="size-not-an-integer"),
        pytest.param({"track_total_hits": "yes"}, "x_content_parse_exception", "expected", id="track-total-hits"),
        pytest.param({"from": 10}, "x_content_parse_exception", "does not model", id="documented-not-modelled"),
        pytest.param({"sort": [{"n": {"order": "up"}}]}, "x_content_parse_exception", "fits none|not one of",
                     id="sort-order"),
        pytest.param({"sort": [{"n": {"mode": "max"}}]}, "x_content_parse_exception", "does not model",
                     id="sort-mode"),
        pytest.param({"query": {"range": {"at": {"gte": "2026", "format": "yyyy"}}}}, "x_content_parse_exception",
                     "does not model", id="range-format"),
        pytest.param({"query": {"term": {"name": "a", "n": 1}}}, "x_content_parse_exception", "exactly one field",
                     id="term-on-two-fields"),
        pytest.param({"query": {"terms": {"name": "a"}}}, "x_content_parse_exception", "expected list",
                     id="terms-not-a-list"),
        pytest.param({"query": {"bool": {"filter": [{"wildcard": {"name": "a*"}}]}}}, "parsing_exception",
                     r"unknown query \[wildcard\]", id="query-not-modelled-inside-bool"),
        pytest.param({"query": {"prefix": {"name": {"val": "a"}}}}, "x_content_parse_exception", "unknown field",
                     id="prefix-long-form"),
        pytest.param({"aggs": {"t": {"terms": {"field": "name", "sizes": 3}}}}, "x_content_parse_exception",
                     r"unknown field \[sizes\]", id="terms-unknown-key"),
        pytest.param({"aggs": {"t": {"terms": {"field": "name", "shard_size": 3}}}}, "x_content_parse_exception",
                     "does not model", id="terms-shard-size"),
        pytest.param({"aggs": {"t": {"terms": {"size": 3}}}}, "x_content_parse_exception", r"requires \[field\]",
                     id="terms-without-field"),
        pytest.param({"aggs": {"t": {"terms": {"field": "name", "order": {"_key": "up"}}}}},
                     "x_content_parse_exception", "not one of", id="terms-order"),
        pytest.param({"aggs": {"t": {"terms": {"field": "name"}, "aggs": {}, "aggregations": {}}}},
                     "parsing_exception", "both", id="aggs-and-aggregations"),
        pytest.param({"aggs": {"t": {"terms": {"field": "name"}, "filters": {"filters": []}}}},
                     "parsing_exception", "one aggregation type", id="two-aggregation-types"),
        pytest.param({"aggs": {"t": {"cardinality": {"field": "name"}}}}, "parsing_exception",
                     "Unknown aggregation type", id="aggregation-not-modelled"),
        pytest.param({"aggs": {"t": {"terms": {"field": "name", "include": "a.*"}}}}, "parsing_exception",
                     "include arrays", id="include-regex-not-modelled"),
        pytest.param({"query": {"range": {"at": {"gte": "yesterday"}}}}, "parse_exception",
                     "failed to parse date", id="bad-date-bound"),
    ],
)
def test_bodies_that_do_not_fit_the_documented_shapes_are_refused(
    raw: OpenSearch, body: dict, error: str, message: str
) -> None:
    with pytest.raises(RequestError) as caught:
        raw.search(index=INDEX, body=body)
    assert caught.value.status_code == 400 and caught.value.error == error
    assert re.search(message, str(caught.value.info["error"]["reason"]))


def test_count_bodies_are_checked_too(raw: OpenSearch) -> None:
    assert raw.count(index=INDEX, body={"query": {"term": {"labels.status": "failed"}}})["count"] == 2
    with pytest.raises(RequestError, match="unknown field"):
        raw.count(index=INDEX, body={"query": {"match_all": {}}, "size": 0})


# -- search semantics -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("sort", "order"),
    [
        pytest.param([{"at": {"order": "desc", "missing": "_last"}}], ["b", "a", "e", "c", "d"], id="desc-missing-last"),
        pytest.param([{"at": {"order": "desc", "missing": "_first"}}], ["c", "d", "b", "a", "e"], id="desc-missing-first"),
        pytest.param([{"at": "asc"}, "name"], ["e", "a", "b", "c", "d"], id="asc-default-missing-last-then-name"),
        pytest.param([{"name": {"order": "desc"}}], ["e", "d", "c", "b", "a"], id="keyword-desc"),
    ],
)
def test_sort_orders_by_fields_with_missing_values_placed(raw: OpenSearch, sort: list, order: list[str]) -> None:
    answer = raw.search(index=INDEX, body={"sort": sort, "size": 10})
    assert names(answer) == order
    assert all(hit["_score"] is None for hit in answer["hits"]["hits"]) and answer["hits"]["max_score"] is None


def test_sorted_hits_carry_their_sort_values(raw: OpenSearch) -> None:
    answer = raw.search(index=INDEX, body={"sort": [{"at": {"order": "desc"}}, {"name": "asc"}], "size": 5})
    values = {hit["_id"]: hit["sort"] for hit in answer["hits"]["hits"]}
    assert values["e"] == [1793491200000, "e"]
    assert values["d"] == [-(2**63), "d"]  # a missing date sorted last in descending order: Long.MIN_VALUE


@pytest.mark.parametrize(
    ("condition", "found"),
    [
        pytest.param({"gte": "2026-11-01T10:00:00.000Z", "lt": "2026-11-02T00:00:00.000Z"}, ["a"], id="gte-lt"),
        pytest.param({"gt": "2026-11-01T10:00:00.000Z"}, ["b"], id="gt"),
        pytest.param({"lte": "2026-11-01"}, ["a", "e"], id="lte-rounds-a-missing-time-up"),
        pytest.param({"gt": "2026-11-01"}, ["b"], id="gt-rounds-a-missing-time-up"),
        pytest.param({"gte": "2026-11-01", "lt": "2026-11-01T10"}, ["e"], id="gte-lt-fill-zeros"),
        pytest.param({"lte": "2026-10"}, [], id="lte-month"),
        pytest.param({"lte": "2026"}, ["a", "b", "e"], id="lte-year"),
        pytest.param({"gte": 1793491200000, "lt": "2026-11-01T10:00:00Z"}, ["e"], id="epoch-millis-bound"),
    ],
)
def test_range_on_a_date_compares_instants_and_skips_malformed(raw: OpenSearch, condition: dict, found: list):
    answer = raw.search(index=INDEX, body={"query": {"range": {"at": condition}}, "sort": ["name"]})
    assert names(answer) == found


@pytest.mark.parametrize(
    ("query", "found"),
    [
        pytest.param({"bool": {"should": [{"term": {"name": "a"}}, {"term": {"name": "b"}}]}}, ["a", "b"],
                     id="should-alone-needs-one"),
        pytest.param({"bool": {"filter": {"term": {"labels.status": "ok"}}, "should": [{"term": {"name": "a"}}]}},
                     ["c", "d"], id="should-beside-a-filter-is-optional"),
        pytest.param({"bool": {"filter": [{"terms": {"labels.run": ["x", "y"]}}], "should": [{"term": {"name": "a"}},
                     {"term": {"name": "c"}}], "minimum_should_match": 1}}, ["a", "c"], id="minimum-should-match"),
        pytest.param({"prefix": {"labels.run": "x"}}, ["a", "d"], id="prefix-short-form"),
        pytest.param({"prefix": {"name": {"value": "A"}}}, [], id="prefix-is-case-sensitive"),
        pytest.param({"exists": {"field": "at"}}, ["a", "b", "e"], id="malformed-values-do-not-exist"),
        pytest.param({"term": {"labels.unmapped": "x"}}, [], id="unmapped-field-matches-nothing"),
    ],
)
def test_queries_match_as_documented(raw: OpenSearch, query: dict, found: list[str]) -> None:
    assert names(raw.search(index=INDEX, body={"query": query, "sort": ["name"]})) == found


def test_terms_aggregation_buckets_as_documented(raw: OpenSearch) -> None:
    body = {
        "size": 0,
        "aggs": {
            "default": {"terms": {"field": "labels.run", "missing": "(none)"}},
            "cut": {"terms": {"field": "labels.status", "size": 1}},
            "included": {"terms": {"field": "name", "include": ["a", "e", "zz"], "order": {"_key": "desc"}}},
            "frequent": {"terms": {"field": "labels.status", "min_doc_count": 3}},
        },
    }
    answer = raw.search(index=INDEX, body=body)["aggregations"]
    # doc_count descending, then key ascending; the missing value as a bucket of its own
    assert [(b["key"], b["doc_count"]) for b in answer["default"]["buckets"]] == [("(none)", 2), ("x", 2), ("y", 1)]
    assert answer["cut"]["buckets"] == [{"key": "failed", "doc_count": 2}] and answer["cut"]["sum_other_doc_count"] == 2
    assert [b["key"] for b in answer["included"]["buckets"]] == ["e", "a"]
    assert answer["frequent"]["buckets"] == []


# -- mappings ---------------------------------------------------------------------------------
def test_dynamic_objects_templates_and_defaults(raw: OpenSearch) -> None:
    # GIVEN new subfields: under a template, and under a dynamic object without one
    loose = {"day": "2026-11-01", "word": "hello", "count": 3}
    lines = [{"index": {"_id": "f"}}, {"name": "f", "labels": {"day": "2026-11-01"}, "loose": loose}]
    assert not raw.bulk(body=lines, index=INDEX)["errors"]
    mapping = raw.indices.get_mapping(index=INDEX)[INDEX]["mappings"]
    # THEN the template maps its paths as keywords, whatever the value looks like
    assert mapping["properties"]["labels"]["properties"]["day"] == {"type": "keyword"}
    # AND without a template, date detection, text with a keyword sub-field, and long apply
    loose = mapping["properties"]["loose"]
    assert loose["dynamic"] == "true" and "type" not in loose  # GET _mapping's form of an object
    assert loose["properties"]["day"] == {"type": "date"}
    assert loose["properties"]["word"]["fields"]["keyword"] == {"type": "keyword", "ignore_above": 256}
    assert loose["properties"]["count"] == {"type": "long"}


@pytest.mark.parametrize(
    ("doc", "error"),
    [
        pytest.param({"surprise": 1}, "strict_dynamic_mapping_exception", id="strict-root"),
        pytest.param({"labels": "flat"}, "mapper_parsing_exception", id="object-given-a-value"),
        pytest.param({"n": "three"}, "mapper_parsing_exception", id="wrong-type"),
    ],
)
def test_documents_that_do_not_fit_are_refused_and_change_no_mapping(raw: OpenSearch, doc: dict, error: str):
    answer = raw.bulk(body=[{"index": {"_id": "x"}}, doc], index=INDEX)
    (item,) = answer["items"]
    assert answer["errors"] and item["index"]["error"]["type"] == error


def test_a_refused_document_adds_no_field(raw: OpenSearch) -> None:
    answer = raw.bulk(body=[{"index": {"_id": "x"}}, {"labels": {"new": "v"}, "surprise": 1}], index=INDEX)
    assert answer["errors"]
    mapping = raw.indices.get_mapping(index=INDEX)[INDEX]["mappings"]
    assert "new" not in mapping["properties"]["labels"].get("properties", {})


def test_a_malformed_date_is_refused_without_ignore_malformed() -> None:
    with OpenSearchStandIn() as server:
        client = OpenSearch(hosts=[server.url], connection_class=RequestsHttpConnection, max_retries=0)
        client.indices.create(index="d", body={"mappings": {"properties": {"at": {"type": "date"}}}})
        answer = client.bulk(body=[{"index": {}}, {"at": "not a date"}], index="d")
        assert answer["items"][0]["index"]["error"]["type"] == "mapper_parsing_exception"


@pytest.mark.parametrize(
    ("mappings", "message"),
    [
        pytest.param({"properties": {"x": {"type": "flat"}}}, r"No handler for type \[flat\]", id="unknown-type"),
        pytest.param({"properties": {"x": {"type": "keyword", "ignore_belowe": 3}}}, r"unknown field", id="unknown-param"),
        pytest.param({"properties": {"x": {"type": "date", "format": "yyyy"}}}, "does not model", id="date-format"),
        pytest.param({"dynamic_templates": [{"t": {"unmatch": "x", "mapping": {"type": "keyword"}}}]}, "does not model",
                     id="template-unmatch"),
        pytest.param({"dynamic_templates": [{"t": {"path_match": "x.*"}}]}, r"requires \[mapping\]",
                     id="template-without-mapping"),
        pytest.param({"date_detection": False}, "does not model", id="date-detection"),
    ],
)
def test_mapping_bodies_are_checked(mappings: dict, message: str) -> None:
    with OpenSearchStandIn() as server:
        client = OpenSearch(hosts=[server.url], connection_class=RequestsHttpConnection, max_retries=0)
        with pytest.raises(RequestError, match=message) as caught:
            client.indices.create(index="m", body={"mappings": mappings})
        assert caught.value.error == "mapper_parsing_exception"
        client.indices.create(index="ok", body={"mappings": {"properties": {"x": {"type": "keyword"}}}})
        with pytest.raises(RequestError, match=message):
            client.indices.put_mapping(index="ok", body=mappings)


def test_put_mapping_replaces_the_dynamic_templates_and_merges_objects(raw: OpenSearch) -> None:
    new = [{"runs": {"path_match": "loose.*", "mapping": {"type": "keyword"}}}]
    raw.indices.put_mapping(
        index=INDEX,
        body={"dynamic_templates": new, "properties": {"labels": {"properties": {"extra": {"type": "keyword"}}}}},
    )
    mapping = raw.indices.get_mapping(index=INDEX)[INDEX]["mappings"]
    assert mapping["dynamic_templates"] == new
    assert set(mapping["properties"]["labels"]["properties"]) == {"status", "run", "extra"}
    with pytest.raises(RequestError, match="cannot be changed from type"):
        raw.indices.put_mapping(index=INDEX, body={"properties": {"labels": {"type": "keyword"}}})


# -- k-NN scores, as the Spaces page documents them -------------------------------------------
# Stored [0.6, 0.8] against the query [1, 0]: inner product and cosine 0.6, squared L2 0.4² + 0.8²
# = 0.8, L1 1.2, Linf 0.8; stored [-0.6, -0.8]: inner product and cosine -0.6, squared L2 1.6² +
# 0.8², L1 2.4, Linf 1.6. https://docs.opensearch.org/latest/mappings/supported-field-types/knn-spaces/
@pytest.mark.parametrize(
    ("vector", "near", "far"),
    [
        pytest.param({"method": {"name": "hnsw", "engine": "faiss", "space_type": "innerproduct"}},
                     1 + 0.6, 1 / (1 + 0.6), id="faiss-innerproduct"),
        pytest.param({"method": {"name": "hnsw", "engine": "lucene", "space_type": "innerproduct"}},
                     0.6 + 1, 1 / (1 + 0.6), id="lucene-innerproduct"),
        pytest.param({"method": {"name": "hnsw", "engine": "faiss", "space_type": "cosinesimil"}},
                     (2 - 0.4) / 2, (2 - 1.6) / 2, id="cosinesimil"),
        pytest.param({"space_type": "l2"}, 1 / (1 + 0.8), 1 / (1 + 1.6**2 + 0.8**2), id="l2"),
        pytest.param({}, 1 / (1 + 0.8), 1 / (1 + 1.6**2 + 0.8**2), id="l2-by-default"),
        pytest.param({"space_type": "l1"}, 1 / (1 + 1.2), 1 / (1 + 1.6 + 0.8), id="l1"),
        pytest.param({"space_type": "linf"}, 1 / (1 + 0.8), 1 / (1 + 1.6), id="linf"),
    ],
)
def test_knn_scores_follow_the_documented_space_formulas(vector: dict[str, Any], near: float, far: float) -> None:
    with OpenSearchStandIn() as server:
        client = OpenSearch(hosts=[server.url], connection_class=RequestsHttpConnection, max_retries=0)
        client.indices.create(
            index="v",
            body={"settings": {"index": {"knn": True}},
                  "mappings": {"properties": {"v": {"type": "knn_vector", "dimension": 2, **vector}}}},
        )
        client.bulk(body=[{"index": {"_id": "near"}}, {"v": [0.6, 0.8]}, {"index": {"_id": "far"}}, {"v": [-0.6, -0.8]}],
                    index="v")
        answer = client.search(index="v", body={"query": {"knn": {"v": {"vector": [1.0, 0.0], "k": 2}}}})
    assert {hit["_id"]: hit["_score"] for hit in answer["hits"]["hits"]} == pytest.approx({"near": near, "far": far})


# -- analysis plugins -----------------------------------------------------------------------------
KUROMOJI_SETTINGS = {
    "analysis": {
        "tokenizer": {"ja": {"type": "kuromoji_tokenizer"}},
        "analyzer": {"a": {"type": "custom", "tokenizer": "ja", "filter": ["lowercase"]}},
    }
}


@pytest.mark.parametrize(
    ("settings", "mappings", "error", "message"),
    [
        pytest.param(KUROMOJI_SETTINGS, {}, "illegal_argument_exception",
                     r"^Unknown tokenizer type \[kuromoji_tokenizer\] for \[ja\]$", id="defined-tokenizer"),
        pytest.param({"analysis": {"filter": {"pos": {"type": "kuromoji_part_of_speech"}}}}, {},
                     "illegal_argument_exception", r"^Unknown filter type \[kuromoji_part_of_speech\] for \[pos\]$",
                     id="defined-filter"),
        pytest.param({"analysis": {"analyzer": {"a": {"tokenizer": "standard", "filter": ["kuromoji_baseform"]}}}},
                     {}, "illegal_argument_exception",
                     r"^Custom Analyzer \[a\] failed to find filter under name \[kuromoji_baseform\]$",
                     id="built-in-filter-by-name"),
        pytest.param({"analysis": {"analyzer": {"a": {"tokenizer": "kuromoji_tokenizer"}}}}, {},
                     "illegal_argument_exception",
                     r"^Custom Analyzer \[a\] failed to find tokenizer under name \[kuromoji_tokenizer\]$",
                     id="built-in-tokenizer-by-name"),
        pytest.param({"analysis": {"analyzer": {"a": {"type": "kuromoji"}}}}, {}, "illegal_argument_exception",
                     r"^Unknown analyzer type \[kuromoji\] for \[a\]$", id="analyzer-type"),
        pytest.param({}, {"properties": {"t": {"type": "text", "analyzer": "kuromoji"}}}, "mapper_parsing_exception",
                     r"^analyzer \[kuromoji\] has not been configured in mappings$", id="plugin-analyzer-in-mapping"),
    ],
)
def test_a_cluster_without_the_plugin_refuses_kuromoji(
    settings: dict[str, Any], mappings: dict[str, Any], error: str, message: str
) -> None:
    # GIVEN a cluster without analysis plugins, and one with them
    with OpenSearchStandIn(plugins=frozenset()) as bare, OpenSearchStandIn() as full:
        body = {"settings": settings, "mappings": mappings}
        # WHEN an index using kuromoji is created THEN only the bare cluster refuses it, as documented
        with pytest.raises(RequestError) as refused:
            _client(bare).indices.create(index="ja", body=body)
        assert refused.value.status_code == 400 and refused.value.error == error
        assert re.search(message, refused.value.info["error"]["reason"])
        assert _client(full).indices.create(index="ja", body=body)["acknowledged"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param({"settings": {"analysis": {"analyzer": {"a": {"type": "custom", "filter": ["lowercase"]}}}}},
                     r"analyzer \[a\] must specify either an analyzer type, or a tokenizer", id="no-tokenizer"),
        pytest.param({"mappings": {"properties": {"t": {"type": "text", "fields": {"x": {"type": "text",
                      "analyzer": "undefined"}}}}}}, r"analyzer \[undefined\] has not been configured", id="multi-field"),
    ],
)
def test_analysis_mistakes_are_refused_on_any_cluster(body: dict[str, Any], message: str) -> None:
    with OpenSearchStandIn() as full, pytest.raises(RequestError, match=message):
        _client(full).indices.create(index="x", body=body)


def test_built_in_analysis_needs_no_plugin() -> None:
    body = {
        "settings": {"analysis": {"analyzer": {"cjk2": {"type": "custom", "tokenizer": "standard",
                                                        "filter": ["cjk_width", "lowercase", "cjk_bigram"]}}}},
        "mappings": {"properties": {"t": {"type": "text", "analyzer": "cjk2", "fields": {"e": {"type": "text",
                                                                                           "analyzer": "english"}}}}},
    }
    with OpenSearchStandIn(plugins=frozenset()) as bare:
        assert _client(bare).indices.create(index="x", body=body)["acknowledged"]


def _client(server: OpenSearchStandIn) -> OpenSearch:
    return OpenSearch(hosts=[server.url], connection_class=RequestsHttpConnection, max_retries=0, timeout=5)
