"""A question as the bot received it, and what its thread already says."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from slack_sdk.errors import SlackApiError

from kotae.models import Turn

logger = Logger(service="kotae-bot", child=True)
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
PLACEHOLDER = {"en": "Looking that up…", "ja": "調べています…"}
MAX_HISTORY_MESSAGES = 20


def clean_question(text: str) -> str:
    """The question without the bot's mention."""
    return _MENTION.sub(" ", text or "").strip()


@dataclass(frozen=True)
class Question:
    event_id: str
    team_id: str | None
    channel_id: str
    user_id: str | None
    thread_ts: str  # where the answer goes; "" for /kotae, whose answer is in no thread
    text: str
    message_ts: str = ""  # the message itself; differs from thread_ts for a reply in a thread

    @classmethod
    def from_event(cls, body: dict[str, Any], event: dict[str, Any]) -> Question:
        """A message or app_mention event; the answer goes to its thread (or starts one)."""
        return cls(
            event_id=body.get("event_id") or f"{event.get('channel')}:{event.get('ts')}",
            team_id=body.get("team_id"),
            channel_id=event["channel"],
            user_id=event.get("user"),
            thread_ts=event.get("thread_ts") or event["ts"],
            text=clean_question(event.get("text", "")),
            message_ts=event["ts"],
        )

    @classmethod
    def from_command(cls, command: dict[str, Any]) -> Question:
        """A /kotae command; its text is the question as typed."""
        return cls(
            event_id="",  # commands are not retried, so not deduplicated
            team_id=command.get("team_id"),
            channel_id=command.get("channel_id", ""),
            user_id=command.get("user_id"),
            thread_ts="",
            text=command.get("text", ""),
        )


def thread_key(channel_id: str, thread_ts: str) -> str:
    return f"thread:{channel_id}:{thread_ts}"


def thread_history(client: Any, question: Question) -> list[Turn]:
    """Earlier messages of the thread, oldest first, as conversation turns (bounded)."""
    if not question.message_ts or question.message_ts == question.thread_ts:
        return []
    try:
        replies = client.conversations_replies(
            channel=question.channel_id, ts=question.thread_ts, limit=MAX_HISTORY_MESSAGES
        )
    except SlackApiError as exc:  # missing scope or deleted thread: answer without history
        logger.warning("thread history unavailable", extra={"error": str(exc.response.get("error"))})
        return []
    turns = []
    for message in replies.get("messages", [])[-MAX_HISTORY_MESSAGES:]:
        text = clean_question(message.get("text", ""))
        if message.get("ts") == question.message_ts or not text or text in PLACEHOLDER.values():
            continue
        turns.append(Turn(role="assistant" if message.get("bot_id") else "user", text=text))
    return turns


def show_status(client: Any, question: Question, lang: str) -> None:
    """The assistant panel's "thinking…" status; only DMs can be assistant threads, and
    elsewhere Slack refuses it, which is fine: the placeholder message is already there."""
    if not question.channel_id.startswith("D"):
        return
    try:
        client.assistant_threads_setStatus(
            channel_id=question.channel_id,
            thread_ts=question.thread_ts,
            status=PLACEHOLDER.get(lang, PLACEHOLDER["en"]),
        )
    except SlackApiError as exc:
        logger.debug("no assistant status", extra={"error": str(exc.response.get("error"))})
