"""A chunk's text in the lexical indexes: its tokens by field in ``fts`` and its character
bigrams by field in ``grams``, with their counts in ``gram_df`` (see :mod:`.schema`), written
and removed inside the caller's write transaction."""

from __future__ import annotations

import sqlite3

from kotae.text import tokenize
from kotae.text.ngrams import char_ngrams


def index_text(db: sqlite3.Connection, row_id: int, title_text: str, body_text: str) -> list[str]:
    """Index the chunk's title and text; returns its tokens (title's, then text's), which are
    what its class's term counts count."""
    title, body = tokenize(title_text), tokenize(body_text)
    db.execute(
        "INSERT INTO fts (rowid, title, body) VALUES (?, ?, ?)", (row_id, " ".join(title), " ".join(body))
    )
    title_grams, body_grams = char_ngrams(title_text), char_ngrams(body_text)
    if title_grams or body_grams:
        db.execute(
            "INSERT INTO grams (rowid, title, body) VALUES (?, ?, ?)",
            (row_id, " ".join(title_grams), " ".join(body_grams)),
        )
        _count_grams(db, title_grams + body_grams, +1)
    return title + body


def _count_grams(db: sqlite3.Connection, grams: list[str], delta: int) -> None:
    db.executemany(
        "INSERT INTO gram_df VALUES (?, ?) ON CONFLICT(term) DO UPDATE SET df = df + excluded.df",
        [(g, delta) for g in set(grams)],
    )


def drop_text(db: sqlite3.Connection, row_id: int) -> list[str] | None:
    """Remove the chunk from both indexes; returns the tokens it had (None: it had no row)."""
    row = db.execute("SELECT title, body FROM fts WHERE rowid = ?", (row_id,)).fetchone()
    db.execute("DELETE FROM fts WHERE rowid = ?", (row_id,))
    grams = db.execute("SELECT title, body FROM grams WHERE rowid = ?", (row_id,)).fetchone()
    if grams is not None:
        _count_grams(db, f"{grams[0] or ''} {grams[1] or ''}".split(), -1)
        db.execute("DELETE FROM grams WHERE rowid = ?", (row_id,))
    if row is None:
        return None
    return f"{row[0] or ''} {row[1] or ''}".split()


def add_counts(db: sqlite3.Connection, class_id: int, tokens: list[str], delta: int) -> None:
    """Add ``delta`` to the class's count of each distinct token."""
    db.executemany(
        "INSERT INTO class_df VALUES (?, ?, ?) ON CONFLICT(term, class) DO UPDATE SET df = df + excluded.df",
        [(t, class_id, delta) for t in set(tokens)],
    )
