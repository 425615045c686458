"""The OpenSearch mirror of the embedded lexical ranking (kotae.providers.opensearch_lexical): the
mapping's analyzers and subfields, the two search bodies, the client-side fusion, the fallback
without kuromoji, and an index older than the analysis."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator

import pytest
from opensearchpy import OpenSearch, RequestsHttpConnection

from kotae.errors import StoreError
from kotae.models import Filters
from kotae.providers import opensearch_analysis as analysis
from kotae.providers import opensearch_lexical as lexical
from kotae.providers.base import ScoredDocument
from kotae.providers.opensearch_queries import index_body, visibility
from kotae.providers.opensearch_store import OpenSearchStore
from kotae.text.fusion import LexicalRanking, fuse
from kotae.text.synonyms import japanese_synonyms
from kotae.text.tokenizers import _word_list, japanese_backend, tokenize
from tests.fakes import make_doc as doc
from tests.standins import opensearch_text
from tests.standins.opensearch import OpenSearchStandIn

ALIAS = "kotae-lex"
QUESTION = "うちの地区って燃えるゴミ何曜日やったっけ？"  # hoshizora-faq hz-a-q001: 地区 has synonyms
VISIBLE = visibility(Filters(scopes=("public",)))
needs_mecab = pytest.mark.skipif(japanese_backend() != "mecab", reason="synonyms need MeCab")


def client(url: str) -> OpenSearch:
    return OpenSearch(hosts=[url], connection_class=RequestsHttpConnection, max_retries=0, timeout=5)


@pytest.fixture
def server() -> Iterator[OpenSearchStandIn]:
    with OpenSearchStandIn() as s:
        yield s


# -- mapping -----------------------------------------------------------------------------------
def test_the_mapping_mirrors_the_embedded_analysis() -> None:
    settings = index_body(4)["settings"]["analysis"]
    assert settings["tokenizer"]["kotae_kuromoji_normal"] == {"type": "kuromoji_tokenizer", "mode": "normal"}
    assert settings["analyzer"]["kotae_ja_words"]["filter"] == [
        "kuromoji_baseform", "kotae_ja_pos", "cjk_width", "lowercase", "kotae_ja_filler", "kotae_en_stop",
        "kotae_en_snowball",
    ]  # fmt: skip
    assert settings["filter"]["kotae_en_snowball"] == {"type": "snowball", "language": "English"}
    assert settings["analyzer"]["kotae_grams"]["filter"] == [
        "cjk_width",
        "lowercase",
        "cjk_bigram",
        "kotae_cjk_only",
    ]
    assert settings["filter"]["kotae_cjk_only"] == {"type": "keep_types", "types": ["<DOUBLE>", "<SINGLE>"]}
    # THEN the part-of-speech filter lists whole IPADIC tags (it compares them exactly)
    tags = settings["filter"]["kotae_ja_pos"]["stoptags"]
    assert tags == list(lexical.POS_STOP_TAGS)
    assert {
        "助詞-格助詞-一般",
        "助動詞",
        "記号-読点",
        "接頭詞-名詞接続",
        "名詞-代名詞-一般",
        "フィラー",
    } <= set(tags)
    assert not {"名詞", "名詞-一般", "動詞-自立"} & set(tags)
    # AND the filler list is ja_filler.txt with the kana and kanji forms kuromoji's base form gives
    words = settings["filter"]["kotae_ja_filler"]["stopwords"]
    assert set(_word_list("ja_filler.txt")) <= set(words) and len(words) == len(set(words))
    assert {"する", "為る", "わかる", "分かる", "いい", "良い", "よい", "こと", "事", "もの", "ところ", "ため",
            "よう", "ください", "くださる", "下さる"} <= set(words)  # fmt: skip
    for name in lexical.FIELDS:
        fields = index_body(4)["mappings"]["properties"][name]["fields"]
        assert fields["words"] == {"type": "text", "analyzer": "kotae_ja_words"}
        assert fields["grams"] == {"type": "text", "analyzer": "kotae_grams"}
        assert fields["ja"]["analyzer"] == "kotae_ja"  # the older query's subfields stay


def test_without_kuromoji_the_word_analyzer_becomes_bigrams_and_the_gram_one_stays() -> None:
    out = analysis.cjk_bigram_body(index_body(4))["settings"]["analysis"]
    assert out["analyzer"]["kotae_ja_words"] == analysis.CJK_BIGRAM_ANALYZER
    assert out["analyzer"]["kotae_grams"] == index_body(4)["settings"]["analysis"]["analyzer"]["kotae_grams"]
    assert not {"kotae_ja_pos", "kotae_ja_filler", "kotae_en_snowball"} & set(out["filter"])
    assert {"kotae_cjk_only", "kotae_en_stop"} <= set(out["filter"]) and "tokenizer" not in out


def test_a_cluster_without_kuromoji_serves_the_new_queries() -> None:
    with OpenSearchStandIn(plugins=frozenset()) as bare:
        store = OpenSearchStore(client(bare.url), ALIAS, 4, refresh=True)
        store.ensure_index()
        store.write("a", [doc("a", text="粗大ごみの出し方")], {})
        store.write("b", [doc("b", text="住民票の写し")], {})
        assert [h.document.item_key for h in store.lexical_search("粗大ごみ", 5, Filters())] == ["a"]
        assert any("combined_fields" in r.body for r in bare.sent("/_search"))


# -- bodies ------------------------------------------------------------------------------------
@needs_mecab
def test_the_words_body_is_bm25f_plus_the_synonym_phrases_at_a_third() -> None:
    body = lexical.words_query(QUESTION, 7, VISIBLE)
    condition = body["query"]["bool"]
    assert (
        condition["filter"] == VISIBLE["bool"]["filter"]
        and condition["must_not"] == VISIBLE["bool"]["must_not"]
    )
    assert condition["minimum_should_match"] == 1 and body["size"] == 7
    words, *phrases = condition["should"]
    assert words == {
        "combined_fields": {"query": QUESTION, "fields": ["title.words^2", "text.words"], "operator": "or"}
    }
    expected = [" ".join(p) for p in japanese_synonyms().expand(tokenize(QUESTION))]
    assert expected and [c["match_phrase"] for c in phrases] == [
        clause for p in expected for clause in ({"title.words": {"query": p, "boost": 0.6}},
                                                 {"text.words": {"query": p, "boost": 0.3}})
    ]  # fmt: skip
    assert body["_source"] == {"excludes": ["vector", "tokens"]}
    # AND without synonyms (the ablation) only the words are asked
    no_synonyms = lexical.words_query(QUESTION, 7, VISIBLE, LexicalRanking(synonyms=False))
    assert no_synonyms["query"]["bool"]["should"] == [words]
    assert VISIBLE["bool"].keys() == {"filter", "must_not"}  # the caller's clause is not changed


@pytest.mark.parametrize(
    ("query", "ranking", "sent"),
    [
        pytest.param(QUESTION, LexicalRanking(), True, id="japanese"),
        pytest.param("How do I reset my password?", LexicalRanking(), False, id="english-has-no-grams"),
        pytest.param(QUESTION, LexicalRanking(grams=False), False, id="grams-off"),
    ],
)
def test_the_gram_body_is_bm25f_over_the_bigram_subfields(
    query: str, ranking: LexicalRanking, sent: bool
) -> None:
    body = lexical.grams_query(query, 3, VISIBLE, ranking)
    if not sent:
        assert body is None
        return
    assert body is not None
    assert body["query"]["bool"]["must"] == [
        {"combined_fields": {"query": query, "fields": ["title.grams^2", "text.grams"], "operator": "or"}}
    ]
    assert body["query"]["bool"]["filter"] == VISIBLE["bool"]["filter"] and body["size"] == 3


def test_nothing_is_asked_for_a_question_of_stop_words_only() -> None:
    asked: list[bool] = []
    assert lexical.queries("the of", 5, VISIBLE, lambda: asked.append(True) or "combined_fields") == {
        "words": None,
        "grams": None,
    }
    assert asked == []  # not even the mapping


def test_an_index_without_the_subfields_gets_the_older_query_alone() -> None:
    bodies = lexical.queries("vpn setup", 5, VISIBLE, lambda: "legacy")
    assert bodies["grams"] is None and bodies["words"] == lexical.legacy_query("vpn setup", 5, VISIBLE)
    (match,) = bodies["words"]["query"]["bool"]["must"]
    assert match["multi_match"]["fields"] == lexical.LEGACY_FIELDS
    assert lexical.queries("ごみ", 5, VISIBLE, lambda: "legacy") == {
        "words": lexical.legacy_query("ごみ", 5, VISIBLE),
        "grams": None,
    }


def test_the_lists_are_fused_by_the_embedded_stores_function() -> None:
    a, b, c = (doc(key) for key in "abc")
    words = [ScoredDocument(a, 8.0), ScoredDocument(b, 4.0)]
    grams = [ScoredDocument(c, 3.0), ScoredDocument(b, 1.5)]
    got = lexical.fused(words, grams, 2)
    expected = fuse({"a#0000": 8.0, "b#0000": 4.0}, {"c#0000": 3.0, "b#0000": 1.5}, LexicalRanking())[:2]
    assert [(h.document.chunk_id, h.score) for h in got] == expected
    assert [h.document.item_key for h in got] == ["a", "b"]  # 0.7 vs 0.7 x 0.5 + 0.3 x 0.5
    assert lexical.fused(words, [], 5) == sorted(words, key=lambda h: -h.score)


# -- the store ---------------------------------------------------------------------------------
def test_a_japanese_question_is_two_searches_fused(server: OpenSearchStandIn) -> None:
    store = OpenSearchStore(client(server.url), ALIAS, 4, refresh=True)
    store.ensure_index()
    store.write("a", [doc("a", text="燃やすごみの収集日は地区ごとに違います")], {})
    store.write("b", [doc("b", text="資源ごみの出し方")], {})
    before = len(server.sent("/_search"))
    hits = store.lexical_search("燃やすごみの日", 5, Filters())
    assert hits[0].document.item_key == "a"
    bodies = [r.json() for r in server.sent("/_search")[before:]]
    words = lexical.words_query("燃やすごみの日", 5, visibility(Filters()))
    grams = lexical.grams_query("燃やすごみの日", 5, visibility(Filters()))
    assert words in bodies and grams in bodies
    assert hits[0].score == pytest.approx(1.0)  # the best of both lists


def test_an_index_older_than_the_analysis_keeps_serving_and_says_to_reindex(
    server: OpenSearchStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN an index made before the .words and .grams subfields
    old = index_body(4)
    for name in lexical.FIELDS:
        for sub in ("words", "grams"):
            del old["mappings"]["properties"][name]["fields"][sub]
    store = OpenSearchStore(client(server.url), ALIAS, 4, refresh=True)
    store.client.indices.create(index=f"{ALIAS}-v1", body=old)
    store.swap_alias(f"{ALIAS}-v1")
    # WHEN it is ensured THEN a warning says it predates the analysis and needs a reindex
    with caplog.at_level(logging.WARNING, logger=lexical.__name__):
        store.ensure_index()
    (warning,) = [r for r in caplog.records if r.name == lexical.__name__]
    assert "predates" in warning.getMessage() and "kotae reindex" in warning.getMessage()
    assert not server.sent("/_mapping", "PUT")  # nothing it cannot take is put
    # AND lexical search still works, with the older query
    store.write("a", [doc("a", text="vpn setup guide")], {})
    assert [h.document.item_key for h in store.lexical_search("vpn", 5, Filters())] == ["a"]
    assert "multi_match" in server.sent("/_search")[-2].body
    # AND after a reindex the new index has the subfields and gets the new queries
    store.reindex(4, lambda target: target.write("a", [doc("a", text="vpn setup guide")], {}))
    assert [h.document.item_key for h in store.lexical_search("vpn", 5, Filters())] == ["a"]
    assert "combined_fields" in server.sent("/_search")[-2].body
    assert lexical.report("x", index_body(4)["mappings"]) is True


# -- the stand-in's scoring ----------------------------------------------------------------------
def test_the_standin_scores_combined_fields_as_bm25f(server: OpenSearchStandIn) -> None:
    store = OpenSearchStore(client(server.url), ALIAS, 4, refresh=True)
    store.ensure_index()
    for key, text in {"ka": "vpn vpn guide", "kb": "printer toner", "kc": "vpn"}.items():
        store.write(key, [doc(key, text=text)], {})
    body = {"query": {"combined_fields": {"query": "vpn", "fields": ["title.words^2", "text.words"]}}}
    hits = {h["_id"]: h["_score"] for h in store.client.search(index=ALIAS, body=body)["hits"]["hits"]}
    # titles are the keys (1 token); bodies 3, 2 and 1 tokens: avgdl = 2 x 1 + 2 = 4
    idf = math.log(1 + (3 - 2 + 0.5) / (2 + 0.5))
    expected = {
        d: idf * tf / (tf + 1.2 * (1 - 0.75 + 0.75 * dl / 4))
        for d, tf, dl in (("ka#0000", 2, 5), ("kc#0000", 1, 3))
    }
    assert hits == pytest.approx(expected)


def test_the_standin_matches_phrases_in_order_only(server: OpenSearchStandIn) -> None:
    store = OpenSearchStore(client(server.url), ALIAS, 4, refresh=True)
    store.ensure_index()
    store.write("a", [doc("a", text="vpn setup guide")], {})
    store.write("b", [doc("b", text="guide to vpn")], {})
    body = {"query": {"match_phrase": {"text.words": {"query": "vpn guide", "boost": 0.5}}}}
    assert [h["_id"] for h in store.client.search(index=ALIAS, body=body)["hits"]["hits"]] == []
    body = {"query": {"match_phrase": {"text.words": "vpn setup"}}}
    assert [h["_id"] for h in store.client.search(index=ALIAS, body=body)["hits"]["hits"]] == ["a#0000"]


@pytest.mark.parametrize(
    "query",
    [
        pytest.param({"combined_fields": {"query": "x"}}, id="no-fields"),
        pytest.param({"combined_fields": {"query": "x", "fields": ["t"], "operator": "xor"}}, id="operator"),
        pytest.param({"combined_fields": {"query": "x", "fields": ["t"], "fuzziness": 1}}, id="unknown-key"),
        pytest.param(
            {"combined_fields": {"query": "x", "fields": ["t"], "zero_terms_query": "all"}}, id="es-only-key"
        ),
        pytest.param({"match_phrase": {"a": "x", "b": "y"}}, id="two-fields"),
        pytest.param({"match_phrase": {"a": {"boost": 1}}}, id="no-query"),
    ],
)
def test_the_standin_refuses_what_the_api_refuses(query: dict, server: OpenSearchStandIn) -> None:
    store = OpenSearchStore(client(server.url), ALIAS, 4)
    store.ensure_index()
    with pytest.raises(Exception) as caught:
        store.client.search(index=ALIAS, body={"query": query})
    assert getattr(caught.value, "status_code", None) == 400


@pytest.mark.parametrize(
    ("text", "cjk_only", "grams"),
    [
        pytest.param("粗大ゴミ", True, ("粗大", "大ゴ", "ゴミ"), id="run"),
        pytest.param("市 バス", True, ("市", "バス"), id="lone-character"),
        pytest.param(
            "ｳｲﾙｽ対策 VPN", False, ("ウイ", "イル", "ルス", "ス対", "対策", "vpn"), id="nfkc-and-words"
        ),
        pytest.param("VPN", True, (), id="latin-dropped"),
    ],
)
def test_the_standin_cuts_bigrams_as_cjk_bigram(text: str, cjk_only: bool, grams: tuple[str, ...]) -> None:
    assert opensearch_text.bigrams(text, cjk_only=cjk_only) == grams


# -- clusters before OpenSearch 3.2 (no combined_fields) -----------------------------------------
def test_a_cluster_without_combined_fields_gets_cross_fields(
    server: OpenSearchStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    store = OpenSearchStore(client(server.url), ALIAS, 4, refresh=True)
    store.ensure_index()
    store.write("a", [doc("a", text="燃やすごみの収集日")], {})
    # GIVEN a cluster that does not parse combined_fields (the probe is refused as 2.x refuses it)
    server.fail(
        path="/_search", status=400, kind="parsing_exception", reason="unknown query [combined_fields]"
    )
    with caplog.at_level(logging.WARNING, logger=lexical.__name__):
        hits = store.lexical_search("燃やすごみ", 5, Filters())
    # THEN the lists are multi_match cross_fields over the same fields, and it is said once
    assert [h.document.item_key for h in hits] == ["a"]
    probe, words, _, grams, _ = (r.json() for r in server.sent("/_search")[-5:])  # each list, then its newest
    assert probe == lexical.PROBE
    assert words["query"]["bool"]["should"][0] == {"multi_match": {
        "query": "燃やすごみ", "fields": ["title.words^2", "text.words"], "type": "cross_fields", "operator": "or",
        "tie_breaker": 1.0}}  # fmt: skip
    assert grams["query"]["bool"]["must"][0]["multi_match"]["fields"] == ["title.grams^2", "text.grams"]
    assert [r.lexical_query for r in caplog.records if r.name == lexical.__name__] == ["cross_fields"]  # type: ignore[attr-defined]
    store.lexical_search("燃やすごみ", 5, Filters())
    assert [r.json() for r in server.sent("/_search")].count(lexical.PROBE) == 1  # probed once


def test_a_failed_probe_is_an_error_and_is_tried_again(server: OpenSearchStandIn) -> None:
    store = OpenSearchStore(client(server.url), ALIAS, 4, refresh=True)
    store.ensure_index()
    store.write("a", [doc("a", text="vpn guide")], {})
    server.fail(path="/_search", status=503)
    with pytest.raises(StoreError, match="probe"):
        store.lexical_search("vpn", 5, Filters())
    assert [h.document.item_key for h in store.lexical_search("vpn", 5, Filters())] == ["a"]
    assert lexical.PROBE in [r.json() for r in server.sent("/_search")]
