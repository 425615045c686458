"""Character n-grams of Japanese text, for the second lexical index that catches what MeCab
splits badly (new words, names, colloquial spellings: ﾏｲﾅ, 市バス, 粗大ゴミ).

Only runs of Japanese script are cut into n-grams (Latin words are served well by the word
index); each run shorter than ``n`` is kept whole, so a one-kanji word such as 市 is found.
The text is normalized as :func:`kotae.text.tokenize` normalizes it (NFKC, lower case), so
half-width katakana and full-width letters match their usual forms.
"""

from __future__ import annotations

from kotae.text.language import JAPANESE_RUN
from kotae.text.tokenizers import normalize

GRAM_SIZE = 2
"""Bigrams: the CJK analyzers' choice (Lucene's CJKBigramFilter, OpenSearch's ``cjk_bigram``)."""


def char_ngrams(text: str, n: int = GRAM_SIZE) -> list[str]:
    """The overlapping ``n``-character grams of each Japanese run of ``text``, in order."""
    grams: list[str] = []
    for match in JAPANESE_RUN.finditer(normalize(text)):
        run = match.group()
        if len(run) <= n:
            grams.append(run)
        else:
            grams.extend(run[i : i + n] for i in range(len(run) - n + 1))
    return grams
