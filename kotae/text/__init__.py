"""Language detection, tokenization for lexical search, and chunking. Pure functions.

Japanese is split into morphemes by MeCab (fugashi + unidic-lite, extra ``embedded``) and
reduced to base forms without particles and auxiliaries; without the dictionary it falls back to
character bigrams, which still match but rank worse. English is lower-cased, stop words dropped
and stemmed with Snowball when available.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from functools import lru_cache

_JA_CHARS = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")
_KANA = re.compile(r"[\u3040-\u30ff\uff66-\uff9f]")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_JA_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]+")

# Parts of speech that carry no meaning for retrieval (UniDic pos1).
_JA_SKIP_POS = frozenset({"助詞", "助動詞", "補助記号", "記号", "空白", "接頭辞"})

EN_STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
    ]
)


def detect_language(text: str) -> str:
    """'ja' when the text has Japanese script, else 'en'. Good enough to route retrievers."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return "en"
    ja = sum(1 for c in letters if _JA_CHARS.match(c))
    # Kana are unambiguous; a few kanji among Latin text are too, for a question.
    return "ja" if ja / len(letters) >= 0.2 or _KANA.search(text) else "en"


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
            base = getattr(feature, "orthBase", None) or word.surface
            out.append(base)
        return out

    return tag


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
    if not _JA_CHARS.search(norm):
        return _latin_tokens(norm, stem)
    tag = _tagger()
    if tag is not None:
        tokens = []
        for token in tag(norm):
            token = normalize(token)
            if _JA_CHARS.search(token):
                tokens.append(token)
            else:
                tokens.extend(_latin_tokens(token, stem))
        return tokens
    tokens = []
    position = 0
    for match in _JA_RUN.finditer(norm):
        tokens.extend(_latin_tokens(norm[position : match.start()], stem))
        tokens.extend(_bigrams(match.group()))
        position = match.end()
    tokens.extend(_latin_tokens(norm[position:], stem))
    return tokens


_SENTENCE_END = re.compile(r"(?<=[。．！？!?\n])|(?<=\.\s)")


def chunk_text(text: str, size: int, overlap: int) -> list[str]:
    """Split text into chunks of at most ``size`` characters, at sentence ends where possible.

    Consecutive chunks share up to ``overlap`` characters so an answer that straddles a cut is
    still found. The split is deterministic, so chunk ids derived from positions are stable.
    """
    text = text.strip()
    if len(text) <= size:
        return [text] if text else []
    return list(_chunks(text, size, overlap))


def _chunks(text: str, size: int, overlap: int) -> Iterator[str]:
    start = 0
    while start < len(text):
        end = min(start + size, len(text))
        if end < len(text):
            window = text[start:end]
            cuts = [m.start() for m in _SENTENCE_END.finditer(window) if m.start() > size // 2]
            if cuts:
                end = start + cuts[-1]
        chunk = text[start:end].strip()
        if chunk:
            yield chunk
        if end >= len(text):
            return
        start = max(end - overlap, start + 1)
