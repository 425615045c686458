"""Japanese analysis on OpenSearch: kuromoji where the cluster has it; where it refuses kuromoji,
the index is created once more with CJK bigrams, a warning is logged, and the index's _meta
records it (kotae.providers.opensearch_analysis)."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from opensearchpy import OpenSearch, RequestError, RequestsHttpConnection

from kotae.errors import StoreError
from kotae.models import Filters
from kotae.providers import opensearch_analysis as analysis
from kotae.providers.opensearch_queries import index_body
from kotae.providers.opensearch_store import OpenSearchStore
from tests.fakes import make_doc as doc
from tests.standins.opensearch import OpenSearchStandIn

ALIAS = "kotae-ja"
LOGGER = "kotae.providers.opensearch_analysis"


def store_on(server: OpenSearchStandIn) -> OpenSearchStore:
    client = OpenSearch(hosts=[server.url], connection_class=RequestsHttpConnection, max_retries=0, timeout=5)
    return OpenSearchStore(client, ALIAS, 4, refresh=True)


def ours(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """kotae's log records (opensearch-py logs every error answer too)."""
    return [r for r in caplog.records if r.name == LOGGER]


@pytest.fixture
def bare() -> Iterator[OpenSearchStandIn]:
    """A cluster without analysis plugins: it refuses every kuromoji component."""
    with OpenSearchStandIn(plugins=frozenset()) as server:
        yield server


def test_an_index_gets_kuromoji_where_the_cluster_has_it(caplog: pytest.LogCaptureFixture) -> None:
    with OpenSearchStandIn() as server, caplog.at_level(logging.INFO, logger=LOGGER):
        store = store_on(server)
        # WHEN the index is created on a cluster with analysis-kuromoji
        store.ensure_index()
        # THEN one create request, with kuromoji, recorded in the mapping's _meta; nothing logged
        (put,) = server.sent(f"/{ALIAS}-v1", "PUT")
        assert put.json() == index_body(4)
        assert put.json()["settings"]["analysis"]["tokenizer"]["kotae_kuromoji"]["type"] == "kuromoji_tokenizer"
        assert store.japanese_analysis() == {f"{ALIAS}-v1": "kuromoji"}
        assert ours(caplog) == []


def test_a_cluster_without_kuromoji_gets_cjk_bigrams_and_says_so(
    bare: OpenSearchStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    store = store_on(bare)
    # WHEN the index is created on a cluster that refuses kuromoji
    with caplog.at_level(logging.INFO, logger=LOGGER):
        assert store.ensure_index() == f"{ALIAS}-v1"
    # THEN the refused request was sent once more without any kuromoji component
    first, second = bare.sent(f"/{ALIAS}-v1", "PUT")
    assert first.json() == index_body(4)
    assert "kuromoji" not in second.body and "ja_stop" not in second.body
    sent = second.json()
    assert sent["settings"]["analysis"]["analyzer"]["kotae_ja"] == analysis.CJK_BIGRAM_ANALYZER
    assert sent["settings"]["analysis"]["analyzer"]["kotae_en"] == index_body(4)["settings"]["analysis"]["analyzer"]["kotae_en"]
    assert sent["mappings"]["properties"] == index_body(4)["mappings"]["properties"]  # same fields, same queries
    # AND one warning names the refused component, the index and the fallback
    (warning,) = ours(caplog)
    assert warning.levelno == logging.WARNING
    assert "kuromoji_tokenizer" in warning.getMessage() and f"{ALIAS}-v1" in warning.getMessage()
    assert warning.japanese_analysis == "cjk_bigram"  # type: ignore[attr-defined]
    # AND the index records it, serves writes and searches, and says so at every ensure_index
    assert store.japanese_analysis() == {f"{ALIAS}-v1": "cjk_bigram"}
    store.write("a", [doc("a", text="有給休暇の申請")], {})
    assert [h.document.item_key for h in store.lexical_search("有給休暇", 5, Filters())] == ["a"]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=LOGGER):
        store.ensure_index()
    assert [r.japanese_analysis for r in ours(caplog)] == ["cjk_bigram"]  # type: ignore[attr-defined]


def test_a_reindex_on_such_a_cluster_falls_back_too(bare: OpenSearchStandIn) -> None:
    store = store_on(bare)
    store.ensure_index()
    assert store.reindex(4, lambda target: None) == f"{ALIAS}-v2"
    assert store.japanese_analysis() == {f"{ALIAS}-v2": "cjk_bigram"}


@pytest.mark.parametrize(
    "reason",
    [
        pytest.param("Unknown tokenizer type [icu_tokenizer] for [kotae_kuromoji]", id="another-plugin-missing"),
        pytest.param("[kuromoji_tokenizer] unknown setting [index.analysis.tokenizer.x.modes]", id="bad-setting"),
        pytest.param("Failed to parse mapping [_doc]: No handler for type [vector]", id="mapping"),
    ],
)
def test_other_refusals_of_create_index_are_errors(reason: str) -> None:
    with OpenSearchStandIn() as server:
        server.fail(path=f"/{ALIAS}-v1", method="PUT", status=400, kind="illegal_argument_exception", reason=reason)
        with pytest.raises(StoreError, match="create index kotae-ja-v1: OpenSearch answered 400"):
            store_on(server).ensure_index()
        assert len(server.sent(f"/{ALIAS}-v1", "PUT")) == 1  # not tried again


def test_a_refused_fallback_is_an_error(bare: OpenSearchStandIn) -> None:
    # GIVEN a cluster that refuses kuromoji, then refuses the CJK bigram body as well
    bare.fail(path=f"/{ALIAS}-v1", method="PUT", status=400, kind="illegal_argument_exception",
              reason="Unknown tokenizer type [kuromoji_tokenizer] for [kotae_kuromoji]")
    bare.fail(path=f"/{ALIAS}-v1", method="PUT", status=400, kind="validation_exception", reason="too many fields")
    # WHEN the index is created THEN it is tried twice, and the second refusal is the error
    with pytest.raises(StoreError, match="validation_exception"):
        store_on(bare).ensure_index()
    assert len(bare.sent(f"/{ALIAS}-v1", "PUT")) == 2


def _refusal(error: Any) -> RequestError:
    return RequestError(400, "illegal_argument_exception", error)


@pytest.mark.parametrize(
    ("info", "component"),
    [
        pytest.param({"error": {"reason": "Unknown tokenizer type [kuromoji_tokenizer] for [kotae_kuromoji]"}},
                     "kuromoji_tokenizer", id="unknown-tokenizer-type"),
        pytest.param({"error": {"reason": "Unknown filter type [kuromoji_part_of_speech] for [pos]"}},
                     "kuromoji_part_of_speech", id="unknown-filter-type"),
        pytest.param({"error": {"reason": "Custom Analyzer [kotae_ja] failed to find filter under name [ja_stop]"}},
                     "ja_stop", id="filter-by-name"),
        pytest.param({"error": {"reason": "failed to find global tokenizer under [kuromoji_tokenizer]"}},
                     "kuromoji_tokenizer", id="global-tokenizer"),
        pytest.param({"error": {"reason": "Unknown analyzer type [kuromoji] for [a]"}}, "kuromoji", id="analyzer"),
        pytest.param({"error": {"type": "x", "reason": "wrapped", "root_cause": [
                      {"reason": "Unknown char_filter type [kuromoji_iteration_mark] for [m]"}]}},
                     "kuromoji_iteration_mark", id="root-cause"),
        pytest.param({"error": {"reason": "wrapped", "caused_by": {
                      "reason": "Unknown tokenizer type [kuromoji_tokenizer] for [t]"}}},
                     "kuromoji_tokenizer", id="caused-by"),
        pytest.param({"error": {"reason": "Unknown tokenizer type [icu_tokenizer] for [kuromoji]"}}, None,
                     id="kuromoji-only-as-a-name"),
        pytest.param({"error": {"reason": "[kuromoji_tokenizer] invalid mode [fast]"}}, None, id="not-unknown"),
        pytest.param({"error": "illegal_argument_exception"}, None, id="error-without-reason"),
        pytest.param("<html>Bad Request</html>", None, id="proxy-text"),
        pytest.param({}, None, id="empty"),
    ],
)
def test_which_refusals_mean_no_kuromoji(info: Any, component: str | None) -> None:
    assert analysis.refused_kuromoji(_refusal(info)) == component


SETTINGS = {
    "analysis": {
        "char_filter": {"marks": {"type": "kuromoji_iteration_mark"}},
        "tokenizer": {"ja": {"type": "kuromoji_tokenizer"}, "grams": {"type": "ngram", "min_gram": 2, "max_gram": 3}},
        "filter": {
            "pos": {"type": "kuromoji_part_of_speech"},
            "syn": {"type": "synonym_graph", "synonyms": ["休暇, 休み"]},
            "shared_stop": {"type": "stop", "stopwords": ["の"]},
            "en_stem": {"type": "stemmer", "language": "english"},
        },
        "analyzer": {
            "ja_index": {"type": "custom", "char_filter": ["marks"], "tokenizer": "ja", "filter": ["pos", "shared_stop"]},
            "ja_search": {"type": "custom", "tokenizer": "standard", "filter": ["kuromoji_baseform", "syn"]},
            "ja_builtin": {"type": "kuromoji"},
            "grams": {"type": "custom", "tokenizer": "grams", "filter": ["shared_stop"]},
            "en": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "en_stem"]},
        },
    }
}


def test_the_cjk_bigram_body_replaces_exactly_the_analyzers_that_use_kuromoji() -> None:
    body = {"settings": copy.deepcopy(SETTINGS), "mappings": {"properties": {"t": {"type": "text"}}}}
    before = copy.deepcopy(body)
    out = analysis.cjk_bigram_body(body)
    assert body == before  # a copy: the kuromoji body is left as it was
    got = out["settings"]["analysis"]
    # THEN every analyzer with a kuromoji tokenizer, filter, char filter or type is CJK bigrams
    assert {name for name, spec in got["analyzer"].items() if spec == analysis.CJK_BIGRAM_ANALYZER} == {
        "ja_index", "ja_search", "ja_builtin"
    }
    assert got["analyzer"]["grams"] == SETTINGS["analysis"]["analyzer"]["grams"]
    assert got["analyzer"]["en"] == SETTINGS["analysis"]["analyzer"]["en"]
    # AND kuromoji components and those only the replaced analyzers used are gone; shared ones stay
    assert "char_filter" not in got
    assert got["tokenizer"] == {"grams": SETTINGS["analysis"]["tokenizer"]["grams"]}
    assert set(got["filter"]) == {"shared_stop", "en_stem"}
    assert out["mappings"]["_meta"] == {"kotae": {"japanese_analysis": "cjk_bigram"}}
    assert "kuromoji" not in json.dumps(got) and out["mappings"]["properties"] == before["mappings"]["properties"]


@pytest.mark.parametrize(
    ("mappings", "expected"),
    [
        pytest.param({"_meta": {"kotae": {"japanese_analysis": "cjk_bigram"}}}, "cjk_bigram", id="fallback"),
        pytest.param({"_meta": {"kotae": {"japanese_analysis": "kuromoji"}}}, "kuromoji", id="kuromoji"),
        pytest.param({"properties": {}}, "kuromoji", id="made-before-meta"),
        pytest.param({"_meta": {"owner": "someone"}}, "kuromoji", id="meta-of-others"),
        pytest.param({"_meta": {"kotae": "cjk_bigram"}}, "kuromoji", id="not-kotae-shaped"),
    ],
)
def test_the_recorded_analysis_is_read_back(mappings: dict[str, Any], expected: str) -> None:
    assert analysis.japanese_analysis(mappings) == expected
