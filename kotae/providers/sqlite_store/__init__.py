"""The embedded store: one SQLite file with FTS5 BM25 for words and exact k-NN for vectors.

Lexical: documents are tokenized by :func:`kotae.text.tokenize` (MeCab for Japanese) and the
tokens stored in an FTS5 table, whose built-in ``bm25()`` ranks matches; a ``term_df`` table keeps
how many chunks hold each token. Dense: vectors are float32 blobs, loaded once into a normalized
matrix and searched exactly (:mod:`.vectors`). Scopes live in their own indexed table and are
applied inside both queries, never after. The file's tables and moves are in :mod:`.schema`.
"""

from kotae.providers.sqlite_store.store import SQLiteStore

__all__ = ["SQLiteStore"]
