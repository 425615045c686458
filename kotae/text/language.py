"""Which language a text is in, from its script: enough to route retrievers and pick messages."""

from __future__ import annotations

import re

# Hiragana, katakana (full and half width) and CJK ideographs.
JAPANESE_CHAR = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")
JAPANESE_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]+")
_KANA = re.compile(r"[\u3040-\u30ff\uff66-\uff9f]")


def detect_language(text: str) -> str:
    """'ja' when the text has Japanese script, else 'en'. Good enough to route retrievers."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return "en"
    ja = sum(1 for c in letters if JAPANESE_CHAR.match(c))
    # Kana are unambiguous; a few kanji among Latin text are too, for a question.
    return "ja" if ja / len(letters) >= 0.2 or _KANA.search(text) else "en"
