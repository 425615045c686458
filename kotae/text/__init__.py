"""Text handling shared by indexing and answering. Pure functions, one module per concern:

- :mod:`kotae.text.language`: which language a text is in;
- :mod:`kotae.text.tokenizers`: tokens for lexical search (MeCab lemmas of content words, or
  bigrams; stemming, stop words);
- :mod:`kotae.text.ngrams`: character bigrams of Japanese text, for the second lexical index;
- :mod:`kotae.text.synonyms`: Japanese query expansion from Sudachi's synonym dictionary;
- :mod:`kotae.text.chunking`: splitting documents into overlapping chunks.

Word lists and the synonym table live in ``kotae/text/data`` as plain text files (the synonym
table with its NOTICE and LICENSE; :mod:`kotae.text.synonym_build` rebuilds it).
"""

from __future__ import annotations

from kotae.text.chunking import chunk_text
from kotae.text.language import detect_language
from kotae.text.tokenizers import EN_STOPWORDS, japanese_backend, normalize, tokenize

__all__ = ["EN_STOPWORDS", "chunk_text", "detect_language", "japanese_backend", "normalize", "tokenize"]
