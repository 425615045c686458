"""A question as the bot received it, and what its thread already says."""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from slack_sdk.errors import SlackApiError

from kotae.models import Turn

logger = Logger(service="kotae-bot", child=True)
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
PLACEHOLDER = {"en": "Looking that up…", "ja": "調べています…"}
MAX_HISTORY_MESSAGES = 20  # the newest turns kept; the core bounds them further by characters
HISTORY_PAGE_SIZE = 200  # messages per conversations.replies call (Slack advises at most 200)
MAX_HISTORY_PAGES = 5  # calls per question: threads are read up to 1,000 messages


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


@dataclass(frozen=True)
class BotIdentity:
    """Who kotae is in this workspace: its bot user and its bot id, which Bolt's authorization
    puts in the listener's context (``bot_user_id``, ``bot_id``, from auth.test)."""

    user_id: str | None = None
    bot_id: str | None = None

    @classmethod
    def of(cls, context: Any) -> BotIdentity:
        return cls(user_id=context.get("bot_user_id"), bot_id=context.get("bot_id"))

    def wrote(self, message: dict[str, Any]) -> bool:
        """Whether kotae posted this message. A bot's message carries its bot id; an unknown
        identity matches nothing, so no message is taken for kotae's by mistake."""
        if message.get("bot_id") or message.get("subtype") == "bot_message":
            return self.bot_id is not None and message.get("bot_id") == self.bot_id
        return self.user_id is not None and message.get("user") == self.user_id


def thread_history(client: Any, question: Question, bot: BotIdentity) -> list[Turn]:
    """The thread's newest messages before the question, oldest first, as conversation turns.

    kotae's own messages are its turns; people's messages are user turns; other bots' messages
    are left out: they are neither what kotae said nor what the asker said, and as user turns
    they would steer retrieval (the previous user turn joins the query) with third-party text."""
    if not question.message_ts or question.message_ts == question.thread_ts:
        return []
    try:
        messages = thread_messages(client, question)
    except SlackApiError as exc:  # missing scope or deleted thread: answer without history
        logger.warning("thread history unavailable", extra={"error": str(exc.response.get("error"))})
        return []
    turns: deque[Turn] = deque(maxlen=MAX_HISTORY_MESSAGES)  # the newest ones
    for message in messages:
        turn = _turn(message, question, bot)
        if turn is not None:
            turns.append(turn)
    return list(turns)


def _turn(message: dict[str, Any], question: Question, bot: BotIdentity) -> Turn | None:
    text = clean_question(message.get("text", ""))
    if message.get("ts") == question.message_ts or not text or text in PLACEHOLDER.values():
        return None
    if bot.wrote(message):
        return Turn(role="assistant", text=text)
    if message.get("bot_id") or message.get("subtype") == "bot_message":  # another bot
        return None
    return Turn(role="user", text=text)


def thread_messages(client: Any, question: Question) -> list[dict[str, Any]]:
    """The thread's messages before the question, oldest first, read page by page
    (https://docs.slack.dev/reference/methods/conversations.replies). Slack returns a thread
    from its start, so the newest messages are on the last page. A thread longer than
    MAX_HISTORY_PAGES pages gives no messages: what was read is not its newest part, and old
    turns passed off as the latest would mislead more than no history."""
    messages: list[dict[str, Any]] = []
    seen: set[str | None] = set()  # a page may repeat the thread's parent message
    cursor: str | None = None
    for _ in range(MAX_HISTORY_PAGES):
        page = client.conversations_replies(
            channel=question.channel_id,
            ts=question.thread_ts,
            latest=question.message_ts,  # nothing after the question, not even kotae's placeholder
            inclusive=False,
            limit=HISTORY_PAGE_SIZE,
            **({"cursor": cursor} if cursor else {}),
        )
        for message in page.get("messages", []):
            if message.get("ts") not in seen:
                seen.add(message.get("ts"))
                messages.append(message)
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not (page.get("has_more") and cursor):
            return messages
    logger.warning("thread too long for history", extra={"pages": MAX_HISTORY_PAGES})
    return []


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
