"""A "not found" handed to people: the "Ask a person" button, the post in the escalation channel,
and what kotae says in the asker's thread. Pure functions.

A not-found answer carries the button when the channel's profile (or KOTAE_ESCALATION_CHANNEL)
names an escalation channel. Its value carries the answer id and the question (a button value
holds at most 2,000 characters:
https://docs.slack.dev/reference/block-kit/block-elements/button-element), because the click
carries only the value. The post in the escalation channel carries Slack message metadata
(``kotae_escalation``: where the question was asked, its answer id and the question;
https://docs.slack.dev/messaging/message-metadata), so that "Save as FAQ" on a reply in that
thread knows the question and the thread to tell, without reading either from the post's text.
Once posted, the question is asked: the answer's button is replaced by where it went (the click
carries the message and its blocks), and the answer id is remembered in the bot's thread memory
(bot/idempotency.py), so a second click, from a client that still shows the button or after an
update Slack refused, posts nothing again.
Question text is defused and escaped: it can neither ping nor link (bot/sanitize.py). The ack
of a click imports this module, so the text helpers, which import pydantic through kotae.models,
are imported by the functions that build the posts, which only lazy listeners call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

ACTION = "escalate"
EVENT_TYPE = "kotae_escalation"
MAX_VALUE = 2000  # characters in a button's value
MAX_QUESTION = 1500  # characters of the question kept in the metadata and the post
ELLIPSIS = "…"


@dataclass(frozen=True)
class Escalation:
    """What an "Ask a person" click says: the not-found answer and its question."""

    answer_id: str
    question: str


@dataclass(frozen=True)
class Origin:
    """The thread an escalated question came from, as its post's metadata names it."""

    channel: str
    thread_ts: str
    answer_id: str
    question: str

    def payload(self) -> dict[str, str]:
        return {
            "channel": self.channel,
            "thread_ts": self.thread_ts,
            "answer_id": self.answer_id,
            "question": self.question,
        }


def escalation_channel(profile_channel: str | None, configured: str | None) -> str | None:
    """Where this channel's not-found questions go: its profile's channel, else the setting's."""
    return profile_channel or configured


def shorten(text: str, limit: int) -> str:
    """At most ``limit`` characters, an ellipsis marking a cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


def button_value(answer_id: str, question: str) -> str:
    """The button's value: JSON of the answer id and the question, cut so that the JSON (escapes
    included) fits MAX_VALUE."""
    text = shorten(question.strip(), MAX_QUESTION)
    while True:
        value = json.dumps({"a": answer_id[:64], "q": text}, ensure_ascii=False, separators=(",", ":"))
        if len(value) <= MAX_VALUE:
            return value
        text = shorten(text, len(text) - (len(value) - MAX_VALUE) - 1)


def escalate_block(answer_id: str, question: str) -> dict[str, Any]:
    """The actions block with "Ask a person" under a not-found answer."""
    return {
        "type": "actions",
        "block_id": f"escalate:{answer_id[:64]}",
        "elements": [
            {
                "type": "button",
                "action_id": ACTION,
                "text": {"type": "plain_text", "text": "Ask a person"},
                "value": button_value(answer_id, question),
            }
        ],
    }


def clicked(value: Any) -> Escalation | None:
    """The click's answer id and question; None for a value kotae did not write."""
    try:
        fields = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        return None
    if not isinstance(fields, dict):
        return None
    answer_id, question = fields.get("a"), fields.get("q")
    if (
        not isinstance(answer_id, str)
        or not answer_id
        or not isinstance(question, str)
        or not question.strip()
    ):
        return None
    return Escalation(answer_id[:64], shorten(question.strip(), MAX_QUESTION))


def _quote(question: str) -> str:
    from bot.formatting import escape
    from bot.sanitize import defuse

    return "\n".join("> " + line for line in escape(defuse(question)).splitlines() or [""])


def escalation_post(
    origin: Origin, *, asker: str, permalink: str | None, usergroup: str | None
) -> dict[str, Any]:
    """chat.postMessage arguments (text, blocks, metadata) of the question in the escalation
    channel. The user group is pinged with Slack's own syntax; nothing in the question can ping."""
    from bot.formatting import cut, escape, slack_link
    from bot.sanitize import defuse

    ping = f"<!subteam^{usergroup}> " if usergroup else ""
    lead = f"{ping}<@{asker}> asked something kotae could not find an answer to:"
    where = slack_link(permalink, "the question's thread") if permalink else "a thread kotae cannot link to"
    how = "Reply in this thread; a knowledge editor can keep the answer with *Save as FAQ* on the reply."
    return {
        "text": cut(f"{lead} {escape(defuse(origin.question))}", 3000),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"{lead}\n{_quote(origin.question)}"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"From {where}. {how}"}]},
        ],
        "metadata": {"event_type": EVENT_TYPE, "event_payload": origin.payload()},
    }


def origin_of(message: dict[str, Any]) -> Origin | None:
    """The escalated question a message's metadata names, if it is an escalation post."""
    metadata = message.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("event_type") != EVENT_TYPE:
        return None
    payload = metadata.get("event_payload")
    if not isinstance(payload, dict):
        return None
    fields = [payload.get(name) for name in ("channel", "thread_ts", "answer_id", "question")]
    channel, thread_ts, answer_id, question = (f if isinstance(f, str) else "" for f in fields)
    if not (channel and thread_ts and answer_id and question):
        return None
    return Origin(channel[:32], thread_ts[:32], answer_id[:64], shorten(question, MAX_QUESTION))


def asked_notice(channel: str) -> str:
    """The reply in the asker's thread once the question is posted (mrkdwn, kotae's own text)."""
    return f"I've asked the people in <#{channel}>. When one of them answers, I'll let you know here."


def failure_notice(error: str, channel: str, reference: str) -> str:
    """The ephemeral to the clicker when the question cannot be posted."""
    if error == "not_in_channel":
        why = f"kotae is not a member of <#{channel}>; ask an admin to invite it"
    elif error in ("channel_not_found", "is_archived"):
        why = "the escalation channel does not exist or is archived; ask an admin to check kotae's settings"
    else:
        why = "Slack refused the post"
    return f"Sorry, I could not pass your question on: {why}. (ref {reference})"


NO_CHANNEL = "Sorry, no channel is set up to take questions from here any more."
ASKED_MEMORY_SECONDS = 30 * 24 * 3600  # a question stays asked for a month


def asked_key(answer_id: str) -> str:
    """The thread-memory marker of an answer whose question was posted (its own key space)."""
    return f"escalated:{answer_id}"


def already_asked_notice(channel: str) -> str:
    """The ephemeral to a second click: the question was posted before."""
    return f"This question is already with the people in <#{channel}>; I'll let you know here when one of them answers."


def asked_blocks(blocks: Any, block_id: str, channel: str) -> list[dict[str, Any]] | None:
    """The answer's blocks with its "Ask a person" block replaced by a line saying where the
    question went; None when that block is not among them (nothing to update)."""
    if not isinstance(blocks, list):
        return None
    done = {
        "type": "context",
        "block_id": block_id,
        "elements": [{"type": "mrkdwn", "text": f"Asked in <#{channel}>"}],
    }
    swapped = [done if isinstance(b, dict) and b.get("block_id") == block_id else b for b in blocks]
    return swapped if done in swapped else None


def knowledge_has_it(question: str, permalink: str | None) -> str:
    """The reply in the original thread once an answer to the escalated question is saved."""
    from bot.formatting import escape, slack_link
    from bot.sanitize import defuse

    answer = f" ({slack_link(permalink, 'the answer')})" if permalink else ""
    return (
        f"Good news: the knowledge now has an answer to “{escape(defuse(shorten(question, 300)))}”{answer}."
    )
