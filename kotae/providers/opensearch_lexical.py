"""The OpenSearch mirror of the embedded store's lexical ranking
(:mod:`kotae.providers.sqlite_store.lexical`): the same lists, weights and fusion, so that what
is tuned on one machine holds in production.

Each of ``title`` and ``text`` has two subfields for it (``opensearch_index.json``):

- ``.words``, analyzer ``kotae_ja_words``: kuromoji (normal mode) -> base form -> the
  part-of-speech stop filter (:data:`POS_STOP_TAGS`) -> ``cjk_width`` + lower case -> the
  filler words (:func:`filler_words`) -> English stop words -> Snowball English. This is
  :func:`kotae.text.tokenize`'s chain with kuromoji's IPADIC in place of MeCab's UniDic, and
  ``cjk_width`` in place of NFKC (the full NFKC needs the ICU plugin);
- ``.grams``, analyzer ``kotae_grams``: ``cjk_width`` + lower case -> ``cjk_bigram`` (a lone
  character stays a unigram) -> only those CJK tokens (``keep_types``), as
  :func:`kotae.text.ngrams.char_ngrams`.

A lexical search is two searches (:func:`words_query`, :func:`grams_query`) fused client side by
:func:`kotae.text.fusion.fuse`, the embedded store's own function (OpenSearch's normalization
processor is min-max, another fusion). Where the mirror is not exact:

- words are ``combined_fields`` over ``title.words^2, text.words`` (BM25F, OpenSearch 3.2+), as
  FTS5's ``bm25(fts, 2, 1)``; FTS5 normalizes by the row's unweighted length, combined_fields by
  the weighted one, and the embedded store drops a question's most common words first
  (``terms.prune``, which only bounds work on large stores);
- synonym expansions are ``match_phrase`` clauses per field (boost 0.3 on text, 0.6 on title),
  a per-field sum rather than BM25F, and a phrase does not match across a dropped word
  (OpenSearch keeps the position gap the stop filters leave; FTS5 stores no gap);
- grams are every bigram of the question scored by BM25, not the rarest 16 (a work bound);
- kuromoji's base form is the written one (ごみ, ゴミ and 塵 stay three words; UniDic's lemma
  joins them), which the ``.grams`` list partly makes up for.

An index made before these subfields existed (:func:`has_fields` false) keeps serving with the
older query (:func:`legacy_query`); ensure_index logs that it needs ``kotae reindex``. A cluster
older than OpenSearch 3.2 has no ``combined_fields``: a size-0 probe at the store's first lexical
search finds out (:func:`mode`), and the lists are then ``multi_match`` ``cross_fields`` queries
with ``tie_breaker`` 1 (per-field BM25 summed over blended statistics: close to BM25F, not it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import cache
from importlib.resources import files
from typing import Any, Literal

from kotae.errors import StoreError
from kotae.providers.base import ScoredDocument
from kotae.text.fusion import LexicalRanking, fuse
from kotae.text.language import JAPANESE_CHAR
from kotae.text.synonyms import japanese_synonyms
from kotae.text.tokenizers import japanese_backend, tokenize

WORDS, GRAMS = "words", "grams"
# The older query's fields: the standard analyzer and the kuromoji (search mode) and English ones.
LEGACY_FIELDS = ["title^2", "title.ja^2", "title.en^2", "text", "text.ja", "text.en"]
FIELDS = ("title", "text")
RANKING = LexicalRanking()
# IPADIC part-of-speech tags (kuromoji's) of the classes kotae.text drops (ja_skip_pos.txt names
# UniDic's): particles, auxiliaries, symbols, prefixes, pronouns, adnominals, conjunctions,
# interjections, fillers. kuromoji_part_of_speech compares whole tags, so every tag is listed.
POS_STOP_TAGS = (
    "助詞", "助詞-格助詞", "助詞-格助詞-一般", "助詞-格助詞-引用", "助詞-格助詞-連語", "助詞-接続助詞",
    "助詞-係助詞", "助詞-副助詞", "助詞-間投助詞", "助詞-並立助詞", "助詞-終助詞",
    "助詞-副助詞／並立助詞／終助詞", "助詞-連体化", "助詞-副詞化", "助詞-特殊", "助動詞",
    "記号", "記号-一般", "記号-句点", "記号-読点", "記号-空白", "記号-括弧開", "記号-括弧閉",
    "記号-アルファベット", "接頭詞", "接頭詞-名詞接続", "接頭詞-動詞接続", "接頭詞-形容詞接続",
    "接頭詞-数接続", "名詞-代名詞", "名詞-代名詞-一般", "名詞-代名詞-縮約", "連体詞", "接続詞",
    "感動詞", "フィラー",
)  # fmt: skip
# The other written forms of ja_filler.txt's UniDic lemmas that kuromoji's base form can be
# (IPADIC keeps the written form: する, 分かる and わかる are three base forms).
FILLER_VARIANTS: dict[str, tuple[str, ...]] = {
    "為る": ("する",), "有る": ("ある",), "居る": ("いる",), "成る": ("なる",), "出来る": ("できる",),
    "遣る": ("やる",), "下さる": ("くださる", "ください"), "頂く": ("いただく",), "貰う": ("もらう",),
    "呉れる": ("くれる",), "仕舞う": ("しまう",), "見る": ("みる",), "教える": ("おしえる",),
    "分かる": ("わかる", "判る"), "知る": ("しる",), "思う": ("おもう",), "言う": ("いう", "云う"),
    "聞く": ("きく",), "良い": ("いい", "よい"), "欲しい": ("ほしい",), "場合": ("ばあい",),
    "事": ("こと",), "物": ("もの",), "所": ("ところ",), "為": ("ため",), "様": ("よう",),
    "方": ("かた", "ほう"), "何": ("なに", "なん"), "如何": ("いかが",),
}  # fmt: skip

Mode = Literal["combined_fields", "cross_fields", "legacy"]
# A query on no document that a cluster without combined_fields refuses with a parsing_exception.
PROBE = {"size": 0, "query": {"combined_fields": {"query": "kotae", "fields": ["title.words"]}}}

log = logging.getLogger(__name__)


@cache
def filler_words() -> tuple[str, ...]:
    """The ``kotae_ja_filler`` stop list: ja_filler.txt's lemmas and their other written forms."""
    text = files("kotae.text").joinpath("data", "ja_filler.txt").read_text(encoding="utf-8")
    lemmas = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return tuple(dict.fromkeys(w for lemma in lemmas for w in (lemma, *FILLER_VARIANTS.get(lemma, ()))))


def fill_analysis(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` (the index template) with the generated word lists in its analysis filters."""
    filters = body["settings"]["analysis"]["filter"]
    filters["kotae_ja_pos"]["stoptags"] = list(POS_STOP_TAGS)
    filters["kotae_ja_filler"]["stopwords"] = list(filler_words())
    return body


def has_fields(mappings: dict[str, Any]) -> bool:
    """Whether an index's mapping (GET _mapping) has the ``.words`` and ``.grams`` subfields."""
    properties = mappings.get("properties", {})
    return all({WORDS, GRAMS} <= set(properties.get(f, {}).get("fields", {})) for f in FIELDS)


def report(index: str, mappings: dict[str, Any]) -> bool:
    """:func:`has_fields`, logging a warning when the index predates the lexical analysis."""
    if has_fields(mappings):
        return True
    log.warning(
        "OpenSearch index %s predates kotae's lexical analysis (title/text .words and .grams): "
        "its lexical search uses the older query and ranks unlike the embedded store; run "
        "`kotae reindex` to rebuild it with the new analysis",
        index,
        extra={"index": index, "lexical_analysis": "legacy"},
    )
    return False


def mode(mappings: Sequence[dict[str, Any]], probe: Callable[[dict[str, Any]], object]) -> Mode:
    """How the indices behind the alias (their ``mappings``) take lexical queries: ``legacy``
    without the subfields, else ``combined_fields`` if the cluster parses :data:`PROBE`, else
    ``cross_fields`` (logged). Any other failure of the probe is raised."""
    if not all(has_fields(m) for m in mappings):
        return "legacy"
    try:
        probe(PROBE)
    except StoreError as exc:
        if "parsing_exception" not in str(exc):
            raise
        log.warning(
            "OpenSearch refused combined_fields (it needs OpenSearch 3.2+): lexical search uses "
            "multi_match cross_fields, which ranks close to the embedded store but not alike",
            extra={"lexical_query": "cross_fields"},
        )
        return "cross_fields"
    return "combined_fields"


def _fields(sub: str, ranking: LexicalRanking) -> list[str]:
    # combined_fields boosts must be >= 1: the body keeps weight 1, the title its ratio to it.
    return [f"title.{sub}^{ranking.title_weight / ranking.body_weight:g}", f"text.{sub}"]


def _combined(query: str, sub: str, ranking: LexicalRanking, how: Mode) -> dict[str, Any]:
    fields = _fields(sub, ranking)
    if how == "cross_fields":
        options = {"type": "cross_fields", "operator": "or", "tie_breaker": 1.0}
        return {"multi_match": {"query": query, "fields": fields, **options}}
    return {"combined_fields": {"query": query, "fields": fields, "operator": "or"}}


def expansions(query: str, ranking: LexicalRanking = RANKING) -> list[str]:
    """The synonym phrases the embedded store adds to ``query`` (tokens joined by spaces)."""
    tokens = tokenize(query)
    if not (ranking.synonyms and tokens and japanese_backend() == "mecab" and JAPANESE_CHAR.search(query)):
        return []
    return [" ".join(phrase) for phrase in japanese_synonyms().expand(tokens)]


def _phrases(phrases: Sequence[str], ranking: LexicalRanking) -> list[dict[str, Any]]:
    weights = {"title": ranking.title_weight, "text": ranking.body_weight}
    return [
        {"match_phrase": {f"{name}.{WORDS}": {"query": p, "boost": ranking.synonym_weight * w}}}
        for p in phrases
        for name, w in weights.items()
    ]


def _body(condition: dict[str, Any], k: int) -> dict[str, Any]:
    return {"size": k, "query": condition, "_source": {"excludes": ["vector", "tokens"]}}


def words_query(
    query: str,
    k: int,
    visibility: dict[str, Any],
    ranking: LexicalRanking = RANKING,
    how: Mode = "combined_fields",
) -> dict[str, Any]:
    """The words list: BM25F of the question's words, plus 0.3 x its synonym phrases' BM25.
    ``visibility`` is opensearch_queries.visibility(filters) (the caller's bool filter)."""
    condition = {"bool": {**visibility["bool"], "minimum_should_match": 1}}
    condition["bool"]["should"] = [
        _combined(query, WORDS, ranking, how),
        *_phrases(expansions(query, ranking), ranking),
    ]
    return _body(condition, k)


def grams_query(
    query: str,
    k: int,
    visibility: dict[str, Any],
    ranking: LexicalRanking = RANKING,
    how: Mode = "combined_fields",
) -> dict[str, Any] | None:
    """The bigram list (BM25F over ``.grams``), or None for a question without Japanese."""
    if not (ranking.grams and JAPANESE_CHAR.search(query)):
        return None
    condition = {"bool": {**visibility["bool"], "must": [_combined(query, GRAMS, ranking, how)]}}
    return _body(condition, k)


def legacy_query(
    query: str, k: int, visibility: dict[str, Any], ranking: LexicalRanking = RANKING
) -> dict[str, Any]:
    """The lexical query of an index made before the ``.words`` and ``.grams`` subfields."""
    match = {"multi_match": {"query": query, "fields": list(LEGACY_FIELDS), "type": "most_fields"}}
    return _body({"bool": {**visibility["bool"], "must": [match]}}, k)


def queries(
    query: str,
    k: int,
    visibility: dict[str, Any],
    how: Callable[[], Mode] = lambda: "combined_fields",
    ranking: LexicalRanking = RANKING,
) -> dict[str, dict[str, Any] | None]:
    """The two searches of a lexical search (None: not sent). The words list is not searched
    when the question has no kotae tokens, as in the embedded store, nor the bigrams without
    Japanese. ``how()`` (asked only when a search is sent) is the indices' :func:`mode`; an
    index without the subfields gets the legacy query alone."""
    tokens = tokenize(query)
    if not (tokens or (ranking.grams and JAPANESE_CHAR.search(query))):
        return {WORDS: None, GRAMS: None}
    used = how()
    if used == "legacy":
        return {WORDS: legacy_query(query, k, visibility) if tokens else None, GRAMS: None}
    words = words_query(query, k, visibility, ranking, used) if tokens else None
    return {WORDS: words, GRAMS: grams_query(query, k, visibility, ranking, used)}


def fused(
    words: Sequence[ScoredDocument],
    grams: Sequence[ScoredDocument],
    k: int,
    ranking: LexicalRanking = RANKING,
) -> list[ScoredDocument]:
    """The two lists as one, by the embedded store's fusion, keyed by chunk id."""
    docs = {hit.document.chunk_id: hit.document for hit in [*grams, *words]}
    ranked = fuse(
        {h.document.chunk_id: h.score for h in words}, {h.document.chunk_id: h.score for h in grams}, ranking
    )
    return [ScoredDocument(docs[chunk_id], score) for chunk_id, score in ranked[:k]]
