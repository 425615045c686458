"""Splitting a document's text into overlapping chunks, at sentence ends where possible."""

from __future__ import annotations

import re
from collections.abc import Iterator

# After Japanese and Latin sentence marks and newlines; a period only when a space follows.
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
