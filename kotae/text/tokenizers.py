"""Tokens for lexical (BM25) search: the same function indexes documents and parses queries.

Japanese is split into morphemes by MeCab (fugashi + unidic-lite, extra ``embedded``). A token is
the morpheme's UniDic *lemma* (わかる and 分かる, ごみ and 塵 are one token; a loanword's
``-bus`` gloss is cut off), and only content words are kept: morphemes whose part of speech
(pos1) is in ``ja_skip_pos.txt`` (particles, auxiliaries, symbols, pronouns, ...) are dropped,
and so are the lemmas in ``ja_filler.txt``, words that phrase a question but carry no topic
(為る, 教える, 場合, ...). Without the dictionary it falls back to character bigrams, which still
match but rank worse. English is lower-cased, stop words dropped and stemmed with Snowball when
available. The word lists are data files in ``kotae/text/data``.

The contract others build on (:mod:`kotae.answer.relevance`, the store's term counts): the
tokens of a text are a pure function of it, the same at index and at query time, and a token
never contains whitespace.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from importlib.resources import files

from kotae.text.language import JAPANESE_CHAR, JAPANESE_RUN

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def _word_list(name: str) -> frozenset[str]:
    """A list from kotae/text/data: one entry a line; blank lines and # comments skipped."""
    text = files("kotae.text").joinpath("data", name).read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


EN_STOPWORDS = _word_list("en_stopwords.txt")
# Parts of speech that carry no meaning for retrieval (UniDic pos1).
_JA_SKIP_POS = _word_list("ja_skip_pos.txt")
# Content words that carry no topic (UniDic lemmas).
_JA_FILLER = _word_list("ja_filler.txt")


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


@lru_cache(maxsize=1)
def _tagger() -> Callable[[str], list[str]] | None:
    try:
        import fugashi
    except ImportError:
        return None
    try:
        tagger = fugashi.Tagger()
    except RuntimeError:  # the dictionary is missing or broken
        return None

    def tag(text: str) -> list[str]:
        out = []
        for word in tagger(text):
            feature = word.feature
            if getattr(feature, "pos1", None) in _JA_SKIP_POS:
                continue
            lemma = _lemma(feature, word.surface)
            if lemma not in _JA_FILLER:
                out.append(lemma)
        return out

    return tag


def _lemma(feature: object, surface: str) -> str:
    """The UniDic lemma without a loanword's gloss (バス-bus -> バス); the surface when the
    dictionary has none (an unknown word)."""
    lemma = getattr(feature, "lemma", None) or "*"
    head = lemma.split("-", 1)[0] if lemma != "*" else ""
    return head or surface


@lru_cache(maxsize=1)
def _stemmer() -> Callable[[str], str]:
    try:
        import snowballstemmer
    except ImportError:
        return lambda word: word
    stemmer = snowballstemmer.stemmer("english")
    # Stemming is pure and vocabularies repeat: caching makes it ~100x cheaper per token.
    return lru_cache(maxsize=200_000)(stemmer.stemWord)


def japanese_backend() -> str:
    """Which Japanese tokenizer is in use: 'mecab' or 'bigram'."""
    return "mecab" if _tagger() is not None else "bigram"


def _bigrams(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def _latin_tokens(text: str, stem: Callable[[str], str]) -> list[str]:
    return [stem(w) for w in _WORD.findall(text) if w not in EN_STOPWORDS]


def tokenize(text: str) -> list[str]:
    """Tokens for BM25: the same function indexes documents and parses queries."""
    norm = normalize(text)
    stem = _stemmer()
    if not JAPANESE_CHAR.search(norm):
        return _latin_tokens(norm, stem)
    tag = _tagger()
    if tag is not None:
        tokens = []
        for token in tag(norm):
            token = normalize(token)
            if JAPANESE_CHAR.search(token):
                tokens.append(token)
            else:
                tokens.extend(_latin_tokens(token, stem))
        return tokens
    tokens = []
    position = 0
    for match in JAPANESE_RUN.finditer(norm):
        tokens.extend(_latin_tokens(norm[position : match.start()], stem))
        tokens.extend(_bigrams(match.group()))
        position = match.end()
    tokens.extend(_latin_tokens(norm[position:], stem))
    return tokens
