"""kotae's steps as task cards in a streamed answer: chat-stream chunks. Pure functions.

A streamed message can carry ``task_update`` chunks next to its ``markdown_text`` chunks; Slack
shows each task id as one card and updates it when the same id is sent again, either as a
timeline of cards between the text or together in one plan (``task_display_mode``)
(https://docs.slack.dev/messaging/sending-and-scheduling-messages#text-streaming). kotae's steps:
searching the knowledge (or querying the records, when a record query answered), then writing
the answer. The retrieval card lists the cited sources as URL source elements when the answer is
known, at the stop. Titles and outputs are kotae's own text; source titles come from the
knowledge and are defused like every other text kotae sends.
"""

from __future__ import annotations

from typing import Any, Literal

from bot.sanitize import defuse
from kotae.models import Answer

TaskDisplayMode = Literal["timeline", "plan", "off"]
SEARCH, WRITE = "search", "write"
SEARCHING, QUERYING, WRITING = "Searching the knowledge", "Querying records", "Writing the answer"
PLAN_TITLE = "Answering your question"
MAX_SOURCES = 10  # URL sources on one card


def task(
    task_id: str,
    title: str,
    status: str,
    *,
    output: str | None = None,
    sources: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One task_update chunk (status: pending, in_progress, complete or error)."""
    chunk: dict[str, Any] = {"type": "task_update", "id": task_id, "title": title, "status": status}
    if output:
        chunk["output"] = output
    if sources:
        chunk["sources"] = sources
    return chunk


def text(markdown: str) -> dict[str, Any]:
    return {"type": "markdown_text", "text": markdown}


def started(mode: TaskDisplayMode) -> list[dict[str, Any]]:
    """The chunks that open the stream: the plan's title (plan mode) and the search under way."""
    plan = [{"type": "plan_update", "title": PLAN_TITLE}] if mode == "plan" else []
    return [*plan, task(SEARCH, SEARCHING, "in_progress")]


def writing() -> list[dict[str, Any]]:
    """The first text has come: the evidence is chosen, the answer is being written."""
    return [task(SEARCH, SEARCHING, "complete"), task(WRITE, WRITING, "in_progress")]


def url_sources(answer: Answer) -> list[dict[str, Any]]:
    """The cited sources that have a web address, as URL source elements."""
    return [
        {"type": "url", "url": c.url, "text": defuse(c.title or c.key)}
        for c in answer.citations
        if c.url and c.url.startswith(("https://", "http://"))
    ][:MAX_SOURCES]


def finished(answer: Answer, *, wrote: bool) -> list[dict[str, Any]]:
    """Every card complete; the retrieval card with what it found and the cited sources."""
    title = QUERYING if answer.records is not None else SEARCHING
    if answer.found:
        count = len(answer.citations)
        output = f"{count} source{'s' if count != 1 else ''} cited" if count else "Answered"
    else:
        output = "Nothing in the knowledge answers this"
    chunks = [task(SEARCH, title, "complete", output=output, sources=url_sources(answer))]
    return chunks + ([task(WRITE, WRITING, "complete")] if wrote else [])


def failed(*, wrote: bool) -> list[dict[str, Any]]:
    """The card that was under way when answering failed, marked as an error."""
    return [task(WRITE, WRITING, "error")] if wrote else [task(SEARCH, SEARCHING, "error")]
