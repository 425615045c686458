"""The embedded store: one SQLite file with FTS5 BM25 for words and exact k-NN for vectors.

Lexical: documents are tokenized by :func:`kotae.text.tokenize` (MeCab for Japanese) and the
tokens stored in an FTS5 table, whose built-in ``bm25()`` ranks matches; ``class_df`` keeps how
many chunks of each visibility class hold each token (:mod:`.terms`). Dense: vectors are float32
blobs, loaded into a normalized matrix per committed state of the file and searched exactly
(:mod:`.vectors`). Scopes live in their own indexed table and are applied inside both queries,
never after. Records: one row per item and one per facet (:mod:`.record_rows`), with the
item's visibility class, answer counts, lists and groups (:mod:`.record_queries`) and facet
look-ups (:mod:`.facet_lookups`) with bound parameters only. Every read is one snapshot of the
file as last committed, by this process or any other (:mod:`.connection`). The file's tables and
schema moves are in :mod:`.schema`, the row writes in :mod:`.rows`.
"""

from kotae.providers.sqlite_store.store import SQLiteStore

__all__ = ["SQLiteStore"]
