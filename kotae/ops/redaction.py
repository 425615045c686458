"""Keeping people's personal data out of the answer log (``KOTAE_LOG_TEXT``).

``mask`` replaces what most often identifies a person in a workplace question, e-mail
addresses, phone numbers and long digit runs (employee, account or card numbers), with a
placeholder that says what was there, so Athena users still see the shape of the question.
``drop`` keeps no question text at all. The masks are deliberately greedy: a false positive
hides a harmless number, a false negative leaks data into a bucket kept for two years.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from kotae.ops.answer_log import Kind, LogSink

Mode = Literal["off", "mask", "drop"]
TEXT_FIELDS = ("question",)  # answer-log fields that carry what a person typed
DROPPED = "[text not logged]"

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# +81 90-1234-5678, (03) 1234-5678, 090 1234 5678, ０９０-１２３４-５６７８ (full-width too)
_PHONE = re.compile(r"(?:\+|＋)?[\d０-９][\d０-９()（）\-‐－ー\s]{7,}[\d０-９]")
_DIGITS = re.compile(r"[\d０-９]{6,}")


def mask(text: str) -> str:
    """The text with e-mail addresses, phone-like numbers and runs of 6+ digits replaced."""
    text = _EMAIL.sub("[email]", text)
    text = _PHONE.sub(lambda m: "[phone]" if sum(c.isdigit() for c in m.group()) >= 9 else m.group(), text)
    return _DIGITS.sub("[number]", text)


def redact(text: str | None, mode: Mode) -> str | None:
    if text is None or mode == "off":
        return text
    return DROPPED if mode == "drop" else mask(text)


class RedactingSink:
    """A log sink that redacts the text fields of answer records before the inner sink sees them."""

    def __init__(self, inner: LogSink, mode: Mode) -> None:
        self.inner, self.mode = inner, mode

    def write(self, kind: Kind, record: dict[str, Any]) -> None:
        if self.mode != "off" and kind == "answers":
            record = {**record, **{f: redact(record.get(f), self.mode) for f in TEXT_FIELDS if f in record}}
        self.inner.write(kind, record)
