"""The record branch of the answer path: a question the parser understood as a record query is
answered with the store's exact figures, the listed records cited as sources."""

from __future__ import annotations

from collections.abc import Iterator

from kotae.answer.context import Context
from kotae.models import Answer
from kotae.records.answers import ANSWERED_BY_RECORDS, record_answer_text


def answer_records(context: Context) -> Iterator[str | Answer]:
    """Yield the record answer's text, then its Answer. Named values that no visible record has
    are a "not found" answer that says so (with the closest ones), never a count of zero."""
    result = context.records
    assert result is not None
    sources = [(sid, hit.document) for sid, hit in context.evidence]
    text = record_answer_text(result, sources, context.lang)
    context.clock.lap("render")
    yield text
    yield context.answer(
        text,
        found=not result.unknown,
        model_id=ANSWERED_BY_RECORDS,
        citations=context.citations([sid for sid, _ in sources]),
    )
