"""OpenSearchStore against the in-process OpenSearch stand-in: request bodies, semantics, faults."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
import requests
from opensearchpy import OpenSearch, RequestError, RequestsHttpConnection

from kotae.errors import ConfigError, IndexMismatch, StoreError
from kotae.models import Filters
from kotae.providers.base import IndexBootstrap, Reindexing
from kotae.providers.opensearch_copies import Write, newest_query
from kotae.providers.opensearch_copies import newest as newest_write
from kotae.providers.opensearch_queries import cosine, index_body
from kotae.providers.opensearch_store import OpenSearchStore
from kotae.settings import load_settings
from tests.fakes import make_doc as doc
from tests.standins.opensearch import NO_CUSTOM_ID, OpenSearchStandIn

ALIAS = "kotae-test"


def client(url: str) -> OpenSearch:
    # No transport retries: every injected fault reaches the store.
    return OpenSearch(hosts=[url], connection_class=RequestsHttpConnection, max_retries=0, timeout=5)


@pytest.fixture
def server() -> Iterator[OpenSearchStandIn]:
    with OpenSearchStandIn() as s:
        yield s


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def os_store(server: OpenSearchStandIn, sleeps: list[float]) -> Iterator[OpenSearchStore]:
    s = OpenSearchStore(client(server.url), ALIAS, 4, sleep=sleeps.append)
    s.ensure_index()
    yield s
    s.close()


def bulk_bodies(server: OpenSearchStandIn) -> list[list[dict]]:
    return [r.ndjson() for r in server.sent("/_bulk", "POST")]


# -- index, mapping, alias ---------------------------------------------------------------------
def test_mapping_declares_knn_analyzers_and_keywords() -> None:
    body = index_body(8)
    vector = body["mappings"]["properties"]["vector"]
    assert vector["type"] == "knn_vector" and vector["dimension"] == 8
    assert vector["method"]["name"] == "hnsw" and vector["method"]["engine"] == "faiss"
    assert vector["method"]["space_type"] == "innerproduct"
    assert body["settings"]["index"]["knn"] is True
    analysis = body["settings"]["analysis"]
    assert analysis["tokenizer"]["kotae_kuromoji"]["type"] == "kuromoji_tokenizer"
    assert {"kuromoji_baseform", "ja_stop"} <= set(analysis["analyzer"]["kotae_ja"]["filter"])
    props = body["mappings"]["properties"]
    assert props["title"]["fields"]["ja"]["analyzer"] == "kotae_ja"
    assert props["text"]["fields"]["en"]["analyzer"] == "kotae_en"
    for name in ("scopes", "item_key", "chunk_id", "kind", "version", "content_hash"):
        assert props[name] == {"type": "keyword"}
    assert props["chunk_index"] == {"type": "integer"} and props["deleted"] == {"type": "boolean"}
    assert body["mappings"]["dynamic"] == "strict"


def test_ensure_index_creates_a_versioned_index_behind_the_alias(server: OpenSearchStandIn) -> None:
    # GIVEN an empty cluster
    store = OpenSearchStore(client(server.url), ALIAS, 4)
    assert isinstance(store, IndexBootstrap) and isinstance(store, Reindexing)
    # WHEN the index is ensured twice
    assert store.ensure_index() == f"{ALIAS}-v1"
    assert store.ensure_index() == f"{ALIAS}-v1"
    # THEN one index was created with the mapping, and the alias points at it
    (put,) = server.sent(f"/{ALIAS}-v1", "PUT")
    assert put.json() == index_body(4)
    (aliases,) = server.sent("/_aliases", "POST")
    assert aliases.json() == {"actions": [{"add": {"index": f"{ALIAS}-v1", "alias": ALIAS}}]}
    assert store.current_indices() == [f"{ALIAS}-v1"]


def test_ensure_index_finishes_a_half_done_creation(server: OpenSearchStandIn) -> None:
    # GIVEN an index created by an attempt that stopped before the alias
    store = OpenSearchStore(client(server.url), ALIAS, 4)
    store.create_index("kotae-custom")
    # WHEN the index is ensured under that name
    assert store.ensure_index("kotae-custom") == "kotae-custom"
    # THEN only the alias was added
    assert len(server.sent("/kotae-custom", "PUT")) == 1 and store.current_indices() == ["kotae-custom"]


def test_ensure_index_refuses_another_vector_size(os_store: OpenSearchStore, server: OpenSearchStandIn):
    other = OpenSearchStore(client(server.url), ALIAS, 8)
    with pytest.raises(IndexMismatch, match="4-dimension"):
        other.ensure_index()


def test_reindex_swaps_the_alias_atomically(os_store: OpenSearchStore, server: OpenSearchStandIn) -> None:
    # GIVEN an item in v1
    os_store.write("a", [doc("a", text="old index")], {"a#0000": [1.0, 0.0, 0.0, 0.0]})

    def fill(target: OpenSearchStore) -> None:
        target.write("a", [doc("a", text="new index")], {"a#0000": [1.0] * 8})

    # WHEN the store is reindexed with bigger vectors
    lines: list[str] = []
    assert os_store.reindex(8, fill, report=lines.append) == f"{ALIAS}-v2"
    assert lines == [f"alias {ALIAS} now points at {ALIAS}-v2"]
    # THEN the alias moved in one request (remove old, add new), and reads see the new index
    move = server.sent("/_aliases", "POST")[-1].json()
    assert move == {
        "actions": [
            {"remove": {"index": f"{ALIAS}-v1", "alias": ALIAS}},
            {"add": {"index": f"{ALIAS}-v2", "alias": ALIAS}},
        ]
    }
    assert server.sent(f"/{ALIAS}-v2", "PUT")[0].json() == index_body(8)
    assert [h.document.text for h in os_store.lexical_search("new", 5, Filters())] == ["new index"]
    assert os_store.vector_search([1.0] * 8, 5, Filters())[0].document.item_key == "a"


# -- writes ------------------------------------------------------------------------------------
def test_bulk_body_is_ndjson_with_chunk_ids(os_store: OpenSearchStore, server: OpenSearchStandIn) -> None:
    os_store.write("a", [doc("a", text="x")], {"a#0000": [3.0, 4.0, 0.0, 0.0]}, version="7")
    (request,) = server.sent("/_bulk", "POST")
    assert request.path == f"/{ALIAS}/_bulk" and request.body.endswith("\n")
    meta, source = request.ndjson()
    assert meta == {"index": {"_id": "a#0000"}}
    assert source["vector"] == [0.6, 0.8, 0.0, 0.0]  # normalized: inner product == cosine
    assert source["has_vector"] is True and source["deleted"] is False and source["version"] == "7"
    assert source["tokens"] == ["x"]  # kotae's tokens of title ("a", a stop word) and text
    assert "refresh" not in request.query


def test_refresh_is_an_option(server: OpenSearchStandIn) -> None:
    store = OpenSearchStore(client(server.url), ALIAS, 4, refresh=True)
    store.ensure_index()
    store.write("a", [doc("a")], {})
    assert server.sent("/_bulk")[0].query == {"refresh": ["true"]}


def test_rewrite_keeps_unchanged_vectors_and_removes_stale_chunks(
    os_store: OpenSearchStore, server: OpenSearchStandIn
) -> None:
    # GIVEN an item of three chunks with vectors
    first = [doc("a", i, f"part {i}") for i in range(3)]
    vectors = {d.chunk_id: [1.0, 0.0, 0.0, float(i)] for i, d in enumerate(first)}
    os_store.write("a", first, vectors, version="1")
    # WHEN it shrinks to two chunks, the first unchanged (no new vector), the second re-embedded
    second = [doc("a", 0, "part 0"), doc("a", 1, "part one, edited")]
    assert os_store.write("a", second, {"a#0001": [0.0, 1.0, 0.0, 0.0]}, version="2")
    # THEN the unchanged chunk went as a partial upsert, the third chunk was deleted
    upserts, deletes = bulk_bodies(server)[-2:]
    assert upserts[0] == {"update": {"_id": "a#0000"}} and upserts[1]["doc_as_upsert"] is True
    assert "vector" not in upserts[1]["doc"]
    assert deletes == [{"delete": {"_id": "a#0002"}}]
    state = os_store.state("a")
    assert state is not None and state.version == "2" and not state.deleted
    assert sorted(state.documents) == ["a#0000", "a#0001"]
    assert state.has_vector == {"a#0000": True, "a#0001": True}
    assert server.docs(ALIAS)["a#0000"]["vector"] == [1.0, 0.0, 0.0, 0.0]
    assert state.documents["a#0001"].text == "part one, edited"
    assert os_store.count() == 2


def test_older_version_is_refused(os_store: OpenSearchStore) -> None:
    assert os_store.write("a", [doc("a", text="ten")], {}, version="10")
    assert not os_store.write("a", [doc("a", text="nine")], {}, version="9")
    assert not os_store.delete("a", version="9")
    state = os_store.state("a")
    assert state is not None and state.documents["a#0000"].text == "ten"
    assert os_store.write("a", [doc("a", text="unversioned")], {})  # unversioned writes always apply


def test_delete_leaves_a_tombstone_that_refuses_older_replays(
    os_store: OpenSearchStore, server: OpenSearchStandIn
) -> None:
    # GIVEN an item
    os_store.write("a", [doc("a", 0, "shipping"), doc("a", 1, "more")], {"a#0000": [1, 0, 0, 0]}, version="4")
    # WHEN it is deleted at version 5
    assert os_store.delete("a", version="5")
    # THEN only a tombstone is left, invisible to every read
    assert list(server.docs(ALIAS)) == ["a#tombstone"]
    assert server.docs(ALIAS)["a#tombstone"]["deleted"] is True
    state = os_store.state("a")
    assert state is not None and state.deleted and state.version == "5" and state.documents == {}
    assert os_store.lexical_search("shipping", 5, Filters()) == []
    assert os_store.count() == 0 and list(os_store.item_keys()) == []
    # AND an older replay cannot resurrect it, while a newer write clears the tombstone
    assert not os_store.write("a", [doc("a", 0, "shipping")], {}, version="4")
    assert os_store.write("a", [doc("a", 0, "back")], {}, version="6")
    assert list(server.docs(ALIAS)) == ["a#0000"]
    assert os_store.state("a").deleted is False  # type: ignore[union-attr]


def test_writing_no_chunks_keeps_the_version_as_a_tombstone(os_store: OpenSearchStore) -> None:
    os_store.write("a", [doc("a")], {}, version="3")
    assert os_store.write("a", [], {}, version="4")
    assert not os_store.write("a", [doc("a")], {}, version="3")
    assert os_store.state("a").version == "4"  # type: ignore[union-attr]


def test_state_of_an_unknown_item_is_none(os_store: OpenSearchStore, server: OpenSearchStandIn) -> None:
    assert os_store.state("nope") is None
    assert server.sent("/_search")[-1].json()["_source"] == {"excludes": ["vector", "tokens"]}


# -- reads -------------------------------------------------------------------------------------
@pytest.fixture
def scoped(os_store: OpenSearchStore) -> OpenSearchStore:
    os_store.write("pub", [doc("pub", text="vpn setup guide")], {"pub#0000": [1.0, 0.0, 0.0, 0.0]})
    os_store.write("sec", [doc("sec", text="vpn secret keys", scopes=["hr"])], {"sec#0000": [1.0, 0.1, 0, 0]})
    os_store.write("note", [doc("note", text="vpn notes", kind="note")], {"note#0000": [0.9, 0.0, 0.1, 0]})
    return os_store


def test_lexical_search_filters_scopes_in_the_query(scoped: OpenSearchStore, server: OpenSearchStandIn):
    hits = scoped.lexical_search('vpn" OR *:*', 10, Filters(scopes=("public",)))
    assert sorted(h.document.item_key for h in hits) == ["note", "pub"]
    body, newest = (r.json() for r in server.sent("/_search")[-2:])
    assert newest == newest_query(["note", "pub"])  # the candidates' newest writes, then
    assert body["query"]["bool"]["filter"] == [{"terms": {"scopes": ["public"]}}]
    assert body["query"]["bool"]["must_not"] == [{"term": {"deleted": True}}]
    match = body["query"]["bool"]["should"][0]["combined_fields"]
    assert match["query"] == 'vpn" OR *:*'  # user text is only ever a "query" value
    assert match["fields"] == ["title.words^2", "text.words"]
    assert body["_source"] == {"excludes": ["vector", "tokens"]} and body["size"] == 10
    kinds = scoped.lexical_search("vpn", 10, Filters(scopes=("public", "hr"), kinds=("faq",)))
    assert sorted(h.document.item_key for h in kinds) == ["pub", "sec"]
    assert scoped.lexical_search("vpn", 10, Filters(scopes=())) == []


def test_vector_search_filters_inside_the_knn_clause(scoped: OpenSearchStore, server: OpenSearchStandIn):
    hits = scoped.vector_search([2.0, 0.0, 0.0, 0.0], 2, Filters(scopes=("public",)))
    assert [h.document.item_key for h in hits] == ["pub", "note"]
    # The faiss innerproduct score (1 + cosine) is read back as the cosine, as the embedded store has it.
    assert hits[0].score == pytest.approx(1.0)
    body = server.sent("/_search")[-2].json()
    knn = body["query"]["knn"]["vector"]
    assert knn["vector"] == [1.0, 0.0, 0.0, 0.0] and knn["k"] == 2
    assert knn["filter"]["bool"]["filter"] == [{"terms": {"scopes": ["public"]}}]
    assert knn["filter"]["bool"]["must_not"] == [{"term": {"deleted": True}}]
    with pytest.raises(IndexMismatch):
        scoped.vector_search([1.0, 0.0], 2, Filters())


def test_blank_query_sends_nothing(scoped: OpenSearchStore, server: OpenSearchStandIn) -> None:
    before = len(server.requests)
    assert scoped.lexical_search("the of", 5, Filters()) == []
    assert len(server.requests) == before


def test_term_frequencies_come_from_one_filters_aggregation(
    scoped: OpenSearchStore, server: OpenSearchStandIn
) -> None:
    # GIVEN three chunks holding "vpn", one of them in a scope, and a deleted item
    scoped.write("gone", [doc("gone", text="vpn setup")], {})
    scoped.delete("gone")
    before = len(server.requests)
    # WHEN the frequencies of three terms are asked for
    assert scoped.term_frequencies(["vpn", "setup", "absent", "vpn"]) == (3, {"vpn": 3, "setup": 1})
    # THEN one size-0 search counted them, whatever the scopes, never the tombstone
    (request,) = server.requests[before:]
    assert request.path == f"/{ALIAS}/_search"
    assert request.json() == {
        "size": 0,
        "track_total_hits": True,
        "query": {"bool": {"must_not": [{"term": {"deleted": True}}]}},
        "aggs": {
            "df": {
                "filters": {
                    "filters": [
                        {"term": {"tokens": "vpn"}},
                        {"term": {"tokens": "setup"}},
                        {"term": {"tokens": "absent"}},
                    ]
                }
            }
        },
    }
    assert scoped.term_frequencies([]) == (3, {})


def test_ensure_index_adds_the_fields_an_older_index_lacks(server: OpenSearchStandIn) -> None:
    # GIVEN an index made by a kotae that did not map "tokens" yet (strict: writes would fail)
    old = index_body(4)
    del old["mappings"]["properties"]["tokens"]
    OpenSearchStore(client(server.url), ALIAS, 4).client.indices.create(index=f"{ALIAS}-v1", body=old)
    store = OpenSearchStore(client(server.url), ALIAS, 4)
    store.swap_alias(f"{ALIAS}-v1")
    # WHEN the index is ensured
    assert store.ensure_index() == f"{ALIAS}-v1"
    # THEN the field was added in place, and writes and term frequencies work
    (put,) = server.sent(f"/{ALIAS}-v1/_mapping", "PUT")
    assert put.json() == {"properties": {"tokens": {"type": "keyword", "ignore_above": 8191}}}
    store.write("a", [doc("a", text="vpn")], {})
    assert store.term_frequencies(["vpn"]) == (1, {"vpn": 1})
    # AND an index already up to date is left alone
    store.ensure_index()
    assert len(server.sent("/_mapping", "PUT")) == 1


@pytest.mark.parametrize(
    ("score", "similarity"),
    [
        pytest.param(2.0, 1.0, id="same-direction"),
        pytest.param(1.25, 0.25, id="positive"),
        pytest.param(1.0, 0.0, id="orthogonal"),
        pytest.param(0.5, -1.0, id="opposite"),
        pytest.param(0.0, -1.0, id="floor"),
    ],
)
def test_faiss_innerproduct_scores_read_back_as_cosine(score: float, similarity: float) -> None:
    assert cosine(score) == pytest.approx(similarity)


def test_item_keys_pages_with_a_composite_aggregation(os_store: OpenSearchStore, server: OpenSearchStandIn):
    for key in ("c", "a", "e", "b", "d"):
        os_store.write(key, [doc(key)], {})
    os_store.delete("e")
    assert list(os_store.item_keys(page=2)) == ["a", "b", "c", "d"]
    pages = [r.json()["aggs"]["items"]["composite"] for r in server.sent("/_search")[-3:]]
    assert [p.get("after") for p in pages] == [None, {"item_key": "b"}, {"item_key": "d"}]


# -- faults ------------------------------------------------------------------------------------
def test_throttled_bulk_items_are_retried(
    os_store: OpenSearchStore, server: OpenSearchStandIn, sleeps: list[float]
) -> None:
    server.fail(items={"a#0001": (429, "es_rejected_execution_exception")})
    assert os_store.write("a", [doc("a", 0), doc("a", 1, "b")], {})
    retry = bulk_bodies(server)[-1]
    assert [line for line in retry if "update" in line] == [{"update": {"_id": "a#0001"}}]
    assert sleeps == [0.2] and sorted(server.docs(ALIAS)) == ["a#0000", "a#0001"]


def test_bulk_items_throttled_every_time_raise(os_store: OpenSearchStore, server: OpenSearchStandIn) -> None:
    for _ in range(4):
        server.fail(items={"a#0000": (503, "unavailable_shards_exception")})
    with pytest.raises(StoreError, match=r"still throttled after 4 attempts for a#0000"):
        os_store.write("a", [doc("a")], {})


def test_bulk_item_mapper_error_names_the_chunk(os_store: OpenSearchStore, server: OpenSearchStandIn) -> None:
    server.fail(items={"a#0001": (400, "mapper_parsing_exception")})
    with pytest.raises(StoreError, match=r"a#0001 \(update, status 400, mapper_parsing_exception"):
        os_store.write("a", [doc("a", 0), doc("a", 1)], {})


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"status": 503}, "answered 503 service_unavailable_exception"),
        ({"status": 429, "kind": "too_many_requests"}, "answered 429 too_many_requests"),
        ({"status": 403, "kind": "security_exception"}, "refused the credentials"),
        ({"status": 404, "kind": "index_not_found_exception"}, "not found in OpenSearch"),
        ({"drop": True}, "cannot reach OpenSearch"),
        ({"status": 502, "text": "<html>Bad Gateway</html>"}, "answered 502 <html>Bad Gateway</html>"),
    ],
)
def test_http_failures_become_store_errors(
    os_store: OpenSearchStore, server: OpenSearchStandIn, fault: dict, message: str
) -> None:
    server.fail(path="/_search", **fault)
    with pytest.raises(StoreError, match=message):
        os_store.lexical_search("vpn", 5, Filters())


def test_missing_alias_and_stopped_server(server: OpenSearchStandIn) -> None:
    store = OpenSearchStore(client(server.url), "missing", 4)
    with pytest.raises(StoreError, match="'missing' not found"):
        store.count()
    server.stop()
    with pytest.raises(StoreError, match="cannot reach"):
        store.state("a")


def test_standin_rejects_bodies_a_cluster_rejects(os_store: OpenSearchStore, server: OpenSearchStandIn):
    raw = os_store.client
    with pytest.raises(RequestError, match="json_parse_exception"):
        raw.bulk(body='{"index": {}}\nnot json\n', index=ALIAS)
    answer = raw.bulk(body=[{"index": {"_id": "x"}}, {"surprise": 1}, {"delete": {"_id": "y"}}], index=ALIAS)
    refused, missing = answer["items"]
    assert answer["errors"] and refused["index"]["error"]["type"] == "strict_dynamic_mapping_exception"
    assert missing == {
        "delete": {"_index": f"{ALIAS}-v1", "_id": "y", "status": 404, "result": "not_found", "_version": 1}
    }
    unterminated = requests.post(f"{server.url}/{ALIAS}/_bulk", data='{"delete": {"_id": "x"}}', timeout=5)
    assert unterminated.status_code == 400 and unterminated.json()["status"] == 400
    unknown = requests.post(
        f"{server.url}/{ALIAS}/_search", json={"query": {"fuzzy": {"text": "x"}}}, timeout=5
    )
    assert unknown.status_code == 400 and unknown.json()["error"]["type"] == "parsing_exception"
    malformed = requests.post(f"{server.url}/_aliases", json={"actions": [{"add": {}}]}, timeout=5)
    assert malformed.status_code == 400 and malformed.json()["error"]["type"] == "parsing_exception"


def test_standin_answers_filters_totals_and_mappings_as_documented(
    os_store: OpenSearchStore, server: OpenSearchStandIn
) -> None:
    raw = os_store.client
    os_store.write("a", [doc("a", text="vpn setup")], {})
    os_store.write("b", [doc("b", text="vpn " + "x" * 9000)], {})
    # Named filters answer buckets by name; a keyword longer than ignore_above is not indexed.
    named = {"vpn": {"term": {"tokens": "vpn"}}, "long": {"term": {"tokens": "x" * 9000}}}
    answer = raw.search(index=ALIAS, body={"size": 0, "aggs": {"f": {"filters": {"filters": named}}}})
    assert answer["aggregations"]["f"]["buckets"] == {"vpn": {"doc_count": 2}, "long": {"doc_count": 0}}
    assert answer["hits"]["hits"] == [] and answer["hits"]["total"] == {"value": 2, "relation": "eq"}
    # hits.total: a lower bound past track_total_hits, absent when it is false.
    bounded = raw.search(index=ALIAS, body={"size": 0, "track_total_hits": 1})
    assert bounded["hits"]["total"] == {"value": 1, "relation": "gte"}
    assert "total" not in raw.search(index=ALIAS, body={"size": 0, "track_total_hits": False})["hits"]
    # An unknown aggregation, or an unknown query inside a filter, is a parsing error.
    for aggs in ({"f": {"sampler": {}}}, {"f": {"filters": {"filters": [{"fuzzy": {"text": "x"}}]}}}):
        with pytest.raises(RequestError, match="parsing_exception"):
            raw.search(index=ALIAS, body={"size": 0, "aggs": aggs})
    # PUT _mapping adds fields and may update ignore_above, but never changes a mapped field.
    raw.indices.put_mapping(
        index=ALIAS, body={"properties": {"tokens": {"type": "keyword", "ignore_above": 10}}}
    )
    for change in ({"tokens": {"type": "text"}}, {"title": {"type": "text", "analyzer": "kotae_en"}}):
        with pytest.raises(RequestError, match="illegal_argument_exception"):
            raw.indices.put_mapping(index=ALIAS, body={"properties": change})
    mapping = raw.indices.get_mapping(index=ALIAS)[f"{ALIAS}-v1"]["mappings"]["properties"]
    assert mapping["tokens"] == {"type": "keyword", "ignore_above": 10}


# -- Serverless: server-generated ids ----------------------------------------------------------
def test_generated_ids_mode_reindexes_the_item_and_deletes_old_documents(sleeps: list[float]) -> None:
    with OpenSearchStandIn(generated_ids=True) as server:
        store = OpenSearchStore(client(server.url), ALIAS, 4, custom_ids=False)
        store.ensure_index()
        # GIVEN an item of two chunks in a collection without custom ids
        vectors = {"a#0000": [1.0, 0, 0, 0], "a#0001": [0, 1.0, 0, 0]}
        store.write("a", [doc("a", 0, "one"), doc("a", 1, "two")], vectors)
        # WHEN the item shrinks to its first chunk, unchanged (no new vector)
        assert store.write("a", [doc("a", 0, "one")], {}, version="2")
        # THEN the new documents carry no _id and keep the stored vector, and old ones are deleted
        upserts, deletes = bulk_bodies(server)[-2:]
        assert upserts[0] == {"index": {}} and upserts[1]["vector"] == [1.0, 0.0, 0.0, 0.0]
        assert len(deletes) == 2 and all(set(line) == {"delete"} for line in deletes)
        state = store.state("a")
        assert state is not None and list(state.documents) == ["a#0000"] and state.has_vector["a#0000"]
        assert store.delete("a", version="3") and store.count() == 0
        assert not store.write("a", [doc("a")], {}, version="2")
        # AND a custom id is refused the way Serverless refuses it
        custom = OpenSearchStore(client(server.url), ALIAS, 4)
        with pytest.raises(StoreError, match=NO_CUSTOM_ID):
            custom.write("b", [doc("b")], {"b#0000": [1.0, 0, 0, 0]})


# -- configuration and auth --------------------------------------------------------------------
@pytest.mark.parametrize("service", ["es", "aoss"])
def test_sigv4_signs_for_the_service(server: OpenSearchStandIn, service: str) -> None:
    settings = load_settings(
        opensearch_endpoint=server.url,
        opensearch_auth=f"sigv4-{service}",
        aws_region="us-east-1",
        opensearch_index=ALIAS,
    )
    store = OpenSearchStore.from_settings(settings, dimensions=4)
    assert store.custom_ids is (service == "es") and store.dimensions == 4
    store.ensure_index()
    headers = server.requests[-1].headers
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=testing/")
    assert f"/us-east-1/{service}/aws4_request" in headers["Authorization"]
    assert "X-Amz-Content-SHA256" in headers or "x-amz-content-sha256" in headers


def test_sigv4_without_credentials_is_a_config_error(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    settings = load_settings(opensearch_endpoint="https://x.aoss.amazonaws.com", aws_region="us-east-1")
    with pytest.raises(ConfigError, match="no AWS credentials"):
        OpenSearchStore.from_settings(settings)


def test_basic_auth_header(server: OpenSearchStandIn) -> None:
    settings = load_settings(
        opensearch_endpoint=server.url,
        opensearch_auth="basic",
        opensearch_username="kotae",
        opensearch_password="s3cret",
        opensearch_index=ALIAS,
    )
    store = OpenSearchStore.from_settings(settings, dimensions=4)
    store.ensure_index()
    expected = "Basic " + base64.b64encode(b"kotae:s3cret").decode()
    assert server.requests[-1].headers["Authorization"] == expected
    assert store.custom_ids and store.dimensions == 4


def test_no_auth_sends_no_authorization(server: OpenSearchStandIn) -> None:
    settings = load_settings(opensearch_endpoint=server.url, opensearch_auth="none", opensearch_index=ALIAS)
    store = OpenSearchStore.from_settings(settings)
    assert store.dimensions == settings.embedding_dimensions
    store.ensure_index()
    assert "Authorization" not in server.requests[-1].headers


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({}, "KOTAE_OPENSEARCH_ENDPOINT"),
        ({"opensearch_endpoint": "ftp://example.com"}, "KOTAE_OPENSEARCH_ENDPOINT"),
        ({"opensearch_endpoint": "example.com", "opensearch_auth": "basic"}, "KOTAE_OPENSEARCH_USERNAME"),
    ],
)
def test_missing_settings_are_config_errors(overrides: dict, variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        OpenSearchStore.from_settings(load_settings(**overrides))


def test_sigv4_needs_a_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    settings = load_settings(opensearch_endpoint="https://x.es.amazonaws.com", opensearch_auth="sigv4-es")
    with pytest.raises(ConfigError, match="KOTAE_AWS_REGION"):
        OpenSearchStore.from_settings(settings)


# -- newest writes -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("writes", "newest"),
    [
        pytest.param([("w1", "5"), ("w2", "6")], "w2", id="later-and-newer"),
        pytest.param([("w1", "6"), ("w2", "5")], "w1", id="an-older-version-written-later-loses"),
        pytest.param([("w1", "5"), ("w2", "5")], "w2", id="same-version-latest-write"),
        pytest.param([("w1", "5"), ("w2", None)], "w2", id="unversioned-latest-write"),
        pytest.param([("", "5"), ("w1", "5")], "w1", id="legacy-documents-are-oldest"),
    ],
)
def test_the_newest_write_is_the_newest_version_then_the_latest_id(writes, newest: str) -> None:
    found = newest_write([Write(i, v, False) for i, v in reversed(writes)])
    assert found is not None and found.id == newest


def test_reads_check_candidates_against_their_newest_writes(scoped: OpenSearchStore, server: OpenSearchStandIn):
    # GIVEN an older copy of "pub" whose deletion has not landed
    old = dict(next(d for d in server.docs(ALIAS).values() if d["item_key"] == "pub"))
    server.docs(ALIAS)["stale-copy"] = {**old, "write": "0" * 20, "text": "vpn setup guide, old"}
    # WHEN a read matches both copies
    hits = scoped.lexical_search("vpn", 10, Filters(scopes=("public",)))
    # THEN only the newest write's copy is served
    assert sorted(h.document.text for h in hits) == ["vpn notes", "vpn setup guide"]
    newest = server.sent("/_search")[-1].json()
    assert newest["query"] == {"bool": {"filter": [{"terms": {"item_key": ["note", "pub"]}}]}}
    writes = newest["aggs"]["items"]["aggs"]["writes"]
    assert writes["terms"]["order"] == {"_key": "desc"} and writes["terms"]["missing"] == ""


def test_term_frequencies_count_what_the_filters_allow(scoped: OpenSearchStore, server: OpenSearchStandIn):
    assert scoped.term_frequencies(["vpn", "secret"], Filters(scopes=("public",))) == (2, {"vpn": 2})
    body = server.sent("/_search")[-1].json()
    assert body["query"]["bool"]["filter"] == [{"terms": {"scopes": ["public"]}}]
    assert scoped.term_frequencies(["secret"], Filters(scopes=("hr",))) == (1, {"secret": 1})
    assert scoped.term_frequencies([], Filters(scopes=("hr",))) == (1, {})


@pytest.mark.parametrize("generated_ids", [False, True], ids=["custom-ids", "serverless"])
def test_advance_version_rewrites_no_vector_and_refuses_older(generated_ids: bool) -> None:
    with OpenSearchStandIn(generated_ids=generated_ids) as server:
        store = OpenSearchStore(client(server.url), ALIAS, 4, custom_ids=not generated_ids)
        store.ensure_index()
        store.write("a", [doc("a", text="kept")], {"a#0000": [1.0, 0.0, 0.0, 0.0]}, version="5")
        assert store.advance_version("a", "7")
        # Custom ids: a partial update without the vector; Serverless: re-indexed with the stored one
        if generated_ids:
            upserts, _ = bulk_bodies(server)[-2:]
            assert upserts[0] == {"index": {}} and upserts[1]["vector"] == [1.0, 0.0, 0.0, 0.0]
        else:
            (upserts,) = bulk_bodies(server)[-1:]
            assert upserts[0] == {"update": {"_id": "a#0000"}} and "vector" not in upserts[1]["doc"]
        state = store.state("a")
        assert state is not None and state.version == "7" and state.has_vector == {"a#0000": True}
        assert state.documents["a#0000"].text == "kept" and len(server.docs(ALIAS)) == 1
        assert not store.advance_version("a", "6") and not store.write("a", [doc("a")], {}, version="6")
        assert store.advance_version("gone", "3") and store.state("gone").deleted  # type: ignore[union-attr]


def test_standin_terms_and_top_hits_aggregations_as_documented(os_store: OpenSearchStore) -> None:
    raw = os_store.client
    for key, scopes in (("a", ["public", "hr"]), ("b", ["hr"]), ("c", ["eng"])):
        os_store.write(key, [doc(key, scopes=scopes)], {})
    body = {
        "size": 0,
        "aggs": {
            "scopes": {
                "terms": {"field": "scopes", "size": 2},
                "aggs": {"one": {"top_hits": {"size": 1, "_source": {"includes": ["item_key"]}}}},
            },
            "by_key": {"terms": {"field": "url", "missing": "none", "order": {"_key": "desc"}}},
        },
    }
    answer = raw.search(index=ALIAS, body=body)["aggregations"]
    hr, second = answer["scopes"]["buckets"]
    # doc_count descending, then key; a multi-valued field counts the document in each bucket
    assert (hr["key"], hr["doc_count"], second["key"]) == ("hr", 2, "eng")
    assert answer["scopes"]["sum_other_doc_count"] == 1
    assert set(hr["one"]["hits"]["hits"][0]["_source"]) == {"item_key"}
    assert hr["one"]["hits"]["total"] == {"value": 2, "relation": "eq"}
    assert answer["by_key"]["buckets"] == [{"key": "none", "doc_count": 3}]
    with pytest.raises(RequestError, match="aggregation_initialization_exception"):
        raw.search(index=ALIAS, body={"aggs": {"t": {"top_hits": {}, "aggs": {"x": {"top_hits": {}}}}}})
