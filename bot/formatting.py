"""Answers as Slack messages: safe mrkdwn and Block Kit. Pure functions.

Slack asks that &, < and > in text be escaped, and treats <!channel>, <!here>, <@U…> and
<url|label> as control sequences (https://docs.slack.dev/messaging/formatting-message-text).
Every text from a model or from content goes through bot/sanitize.py first, which defuses
pings, control sequences and auto-links, and keeps links only to the answer's cited sources;
then it is escaped, and only the Markdown kotae itself understands (bold, headings, links to
those sources) is turned into mrkdwn. Section texts are ``verbatim``: Slack does not auto-link
URLs or channel names in them or parse mentions
(https://docs.slack.dev/reference/block-kit/composition-objects/text-object).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from bot.escalation import escalate_block
from bot.feedback_modal import FEEDBACK_ACTION, PLAIN_FEEDBACK_ACTIONS
from bot.sanitize import Link, allowed_urls, defuse, segments
from kotae.models import Answer

_BOLD = re.compile(r"\*\*(.+?)\*\*")
_HEADING = re.compile(r"^#{1,6}\s+(.+)$", re.MULTILINE)
_PARTIAL_TAIL = re.compile(r"(<[^>]*|&[#A-Za-z0-9]*)$")  # a link or entity a cut would break
MAX_SECTION = 3000  # characters in one section block's text
MAX_TEXT = 3000  # the fallback text of a message with blocks


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_link(url: str, label: str) -> str:
    """<url|label>, with a label that is plain text: defused, escaped, and without the pipe
    that would end the URL early (the URL's own pipes are percent-encoded)."""
    return f"<{escape(url).replace('|', '%7C')}|{escape(defuse(label)).replace('|', '¦')}>"


def to_mrkdwn(markdown: str, allowed: Iterable[str] = ()) -> str:
    """Markdown from a model, the extractive answerer or kotae's messages -> Slack mrkdwn, with
    nothing live but links to the allowed URLs."""
    out = []
    for part in segments(markdown, allowed):
        if isinstance(part, Link):
            out.append(slack_link(part.url, part.label))
        else:
            out.append(_HEADING.sub(r"*\1*", _BOLD.sub(r"*\1*", escape(defuse(part)))))
    return "".join(out)


def fallback_text(answer: Answer) -> str:
    """The top-level text of the answer's message (notifications, clients without blocks)."""
    return cut(to_mrkdwn(answer.text, allowed_urls(answer)), MAX_TEXT)


def plain_reply(text: str) -> str:
    """A message kotae wrote (a failure, a notice) as a message's mrkdwn text."""
    return cut(to_mrkdwn(text), MAX_TEXT)


def cut(mrkdwn: str, limit: int) -> str:
    """At most ``limit`` characters, without a link or entity broken in half at the end."""
    if len(mrkdwn) <= limit:
        return mrkdwn
    return _PARTIAL_TAIL.sub("", mrkdwn[:limit])


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _chunks(text: str, size: int = MAX_SECTION) -> list[str]:
    parts, rest = [], text
    while len(rest) > size:
        at = rest.rfind("\n", 0, size)
        at = at if at > size // 2 else (len(cut(rest, size)) or size)
        parts.append(rest[:at])
        rest = rest[at:].lstrip("\n")
    return [*parts, rest] if rest else parts


def source_line(citation_id: str, title: str, url: str | None, key: str) -> str:
    if url and url.startswith(("https://", "http://")):
        return f"[{citation_id}] {slack_link(url, title or key)}"
    return f"[{citation_id}] {escape(defuse(title or key))} (`{escape(defuse(key))}`)"


def answer_blocks(
    answer: Answer, answer_id: str, *, plain_feedback: bool = False, escalate: bool = False
) -> list[dict[str, Any]]:
    """The final message: answer, Sources, a context line, and 👍/👎 for this answer."""
    sections: list[dict[str, Any]] = [
        {"type": "section", "text": _mrkdwn(part)}
        for part in _chunks(to_mrkdwn(answer.text, allowed_urls(answer)))
    ]
    return sections + footer_blocks(answer, answer_id, plain_feedback=plain_feedback, escalate=escalate)


def footer_blocks(
    answer: Answer, answer_id: str, *, plain_feedback: bool = False, escalate: bool = False
) -> list[dict[str, Any]]:
    """Everything below the answer text (a streamed answer gets these when the stream stops).
    ``plain_feedback``: the 👍/👎 as plain buttons, for where Slack refuses feedback_buttons.
    ``escalate``: a not-found answer offers "Ask a person" (bot/escalation.py), for channels
    with an escalation channel."""
    blocks: list[dict[str, Any]] = []
    if answer.citations:
        lines = [source_line(c.id, c.title, c.url, c.key) for c in answer.citations]
        blocks.append({"type": "section", "text": _mrkdwn("*Sources*\n" + "\n".join(lines))})
    trace = f"prompt {answer.prompt_task}/{answer.prompt_version} · model {answer.model_id}"
    blocks.append({"type": "context", "elements": [_mrkdwn(escape(defuse(trace)))]})
    if escalate and not answer.found and not answer.blocked:
        blocks.append(escalate_block(answer_id, answer.question))
    blocks.append(plain_feedback_block(answer_id) if plain_feedback else feedback_block(answer_id))
    return blocks


def feedback_block(answer_id: str) -> dict[str, Any]:
    """👍/👎 as Slack's feedback_buttons in a context_actions block, the convention for AI
    answers (https://docs.slack.dev/reference/block-kit/block-elements/feedback-buttons-element).
    Each button's value names the answer ("up:<id>", "down:<id>"): the click carries only the
    value of the button pressed."""

    def button(text: str, label: str, value: str) -> dict[str, Any]:
        return {
            "text": {"type": "plain_text", "text": text},
            "accessibility_label": label,
            "value": f"{value}:{answer_id}",
        }

    return {
        "type": "context_actions",
        "block_id": f"feedback:{answer_id}",
        "elements": [
            {
                "type": "feedback_buttons",
                "action_id": FEEDBACK_ACTION,
                "positive_button": button("👍", "This answer helped", "up"),
                "negative_button": button("👎", "This answer did not help", "down"),
            }
        ],
    }


def plain_feedback_block(answer_id: str) -> dict[str, Any]:
    """The 👍/👎 as plain buttons in an actions block (where feedback_buttons are refused)."""
    return {
        "type": "actions",
        "block_id": f"feedback:{answer_id}",
        "elements": [
            {
                "type": "button",
                "action_id": action_id,
                "text": {"type": "plain_text", "text": "👍" if value == "up" else "👎"},
                "value": answer_id,
            }
            for action_id, value in PLAIN_FEEDBACK_ACTIONS.items()
        ],
    }
