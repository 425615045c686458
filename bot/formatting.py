"""Answers as Slack messages: safe mrkdwn and Block Kit. Pure functions.

Slack asks that &, < and > in text be escaped, and treats <!channel>, <!here>, <@U…> and
<url|label> as control sequences (https://api.slack.com/reference/surfaces/formatting#escaping).
Model output is escaped first, so it can never ping a channel or forge a link; only the
Markdown kotae itself understands (bold, inline code, fenced code, [label](url) links) is turned
back into mrkdwn.
"""

from __future__ import annotations

import re
from typing import Any

from kotae.models import Answer

_BOLD = re.compile(r"\*\*(.+?)\*\*")
_HEADING = re.compile(r"^#{1,6}\s+(.+)$", re.MULTILINE)
_LINK = re.compile(r"\[([^\]\n]{1,200})\]\((https?://[^\s)]{1,500})\)")
_MENTION = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
MAX_SECTION = 3000  # characters in one section block's text


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link_label(label: str) -> str:
    return label.replace("|", "¦")


def to_mrkdwn(markdown: str) -> str:
    """Markdown from a model or the extractive answerer -> Slack mrkdwn, with nothing live."""
    text = escape(markdown)
    text = _MENTION.sub(lambda m: "@\u200b" + m.group(1), text)  # zero-width space: no ping
    text = _LINK.sub(lambda m: f"<{m.group(2)}|{_link_label(m.group(1))}>", text)
    text = _BOLD.sub(r"*\1*", text)
    return _HEADING.sub(r"*\1*", text)


def _chunks(text: str, size: int = MAX_SECTION) -> list[str]:
    parts, rest = [], text
    while len(rest) > size:
        cut = rest.rfind("\n", 0, size)
        cut = cut if cut > size // 2 else size
        parts.append(rest[:cut])
        rest = rest[cut:].lstrip("\n")
    return [*parts, rest] if rest else parts


def source_line(citation_id: str, title: str, url: str | None, key: str) -> str:
    label = escape(_link_label(title or key))
    if url and url.startswith(("https://", "http://")):
        return f"[{citation_id}] <{escape(url)}|{label}>"
    return f"[{citation_id}] {label} (`{escape(key)}`)"


def safe_markdown(text: str) -> str:
    """Streamed Markdown (chat.appendStream) with Slack's control sequences and broadcast
    mentions defused; the rest is left for Slack's Markdown renderer."""
    text = _MENTION.sub(lambda m: "@\u200b" + m.group(1), text)
    return text.replace("<!", "<\u200b!").replace("<@", "<\u200b@").replace("<#", "<\u200b#")


def answer_blocks(answer: Answer, answer_id: str) -> list[dict[str, Any]]:
    """The final message: answer, Sources, a context line, and 👍/👎 buttons for this answer."""
    sections: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": part}}
        for part in _chunks(to_mrkdwn(answer.text))
    ]
    return sections + footer_blocks(answer, answer_id)


def footer_blocks(answer: Answer, answer_id: str) -> list[dict[str, Any]]:
    """Everything below the answer text (a streamed answer gets these when the stream stops)."""
    blocks: list[dict[str, Any]] = []
    if answer.citations:
        lines = [source_line(c.id, c.title, c.url, c.key) for c in answer.citations]
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": "*Sources*\n" + "\n".join(lines)}}
        )
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": escape(
                        f"prompt {answer.prompt_task}/{answer.prompt_version} · model {answer.model_id}"
                    ),
                }
            ],
        }
    )
    blocks.append(
        {
            "type": "actions",
            "block_id": f"feedback:{answer_id}",
            "elements": [
                {
                    "type": "button",
                    "action_id": "feedback_up",
                    "text": {"type": "plain_text", "text": "👍"},
                    "value": answer_id,
                },
                {
                    "type": "button",
                    "action_id": "feedback_down",
                    "text": {"type": "plain_text", "text": "👎"},
                    "value": answer_id,
                },
            ],
        }
    )
    return blocks
