"""Answer one Slack question in its thread: placeholder at once, the answer, never silence.

Errors never reach the user as stack traces: they see the error's safe message and a short
reference id that is also in the log line.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency import idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
)
from botocore.exceptions import BotoCoreError, ClientError
from slack_sdk.errors import SlackApiError

from bot.formatting import answer_blocks, escape, footer_blocks, safe_markdown
from bot.runtime import BotRuntime
from kotae.errors import KotaeError, StoreError, new_reference
from kotae.models import Answer, Turn
from kotae.ops import metrics
from kotae.ops.answer_log import answer_record
from kotae.text import detect_language

logger = Logger(service="kotae-bot", child=True)
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
PLACEHOLDER = {"en": "Looking that up…", "ja": "調べています…"}
FAILED = {
    "en": "Sorry, I could not answer that: {message} (ref {reference})",
    "ja": "回答できませんでした: {message} (参照番号 {reference})",
}


def failure_reply(exc: Exception, lang: str, **log: Any) -> str:
    """What a person sees when answering failed: a safe message and a reference id that is
    also in the log line with the exception (never the exception text itself)."""
    metrics.answer_failed()
    reference = exc.reference if isinstance(exc, KotaeError) else new_reference()
    message = exc.user_message if isinstance(exc, KotaeError) else KotaeError.user_message
    logger.exception("answer failed", extra={"reference": reference, **log})
    return escape(FAILED.get(lang, FAILED["en"]).format(message=message, reference=reference))


def clean_question(text: str) -> str:
    """The question without the bot's mention."""
    return _MENTION.sub(" ", text or "").strip()


@dataclass(frozen=True)
class Question:
    event_id: str
    team_id: str | None
    channel_id: str
    user_id: str | None
    thread_ts: str
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


THREAD_MEMORY_SECONDS = 7 * 24 * 3600
MAX_HISTORY_MESSAGES = 20


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


class AnswerFailed(Exception):
    """Answering failed and the person has seen the error reply. Raised through Powertools so
    it drops the idempotency record and Slack's retry of the event is answered."""


def answer_in_thread(client: Any, runtime: BotRuntime, question: Question) -> None:
    """Answer a question once per Slack event id, however often Slack delivers it."""
    once = idempotent_function(
        data_keyword_argument="question",
        persistence_store=runtime.persistence,
        config=runtime.idempotency,
        key_prefix="kotae-answer",
    )(_answer)
    try:
        once(client=client, runtime=runtime, question=question)
    except IdempotencyAlreadyInProgressError:
        logger.info("duplicate delivery ignored", extra={"event_id": question.event_id})
    except AnswerFailed:
        pass  # replied and logged in _answer
    except IdempotencyPersistenceLayerError as exc:  # the dedupe table itself is failing
        failure = StoreError("the bot's dedupe table is unavailable")
        failure.__cause__ = exc
        client.chat_postMessage(
            channel=question.channel_id,
            thread_ts=question.thread_ts,
            text=failure_reply(failure, detect_language(question.text), event_id=question.event_id),
        )


def _answer(client: Any, runtime: BotRuntime, question: Question) -> dict[str, str]:
    kotae = runtime.kotae
    lang = detect_language(question.text)
    show_status(client, question, lang)
    stream_ts = start_stream(client, runtime, question)
    placeholder = None
    if stream_ts is None:
        placeholder = client.chat_postMessage(
            channel=question.channel_id,
            thread_ts=question.thread_ts,
            text=PLACEHOLDER.get(lang, PLACEHOLDER["en"]),
        )["ts"]
    answer_id = uuid.uuid4().hex
    streamed: list[str] = []
    try:
        profile = runtime.profiles.for_channel(question.channel_id)
        options = profile.ask_options()
        answer = None
        for event in kotae.pipeline.ask_stream(
            question.text, history=thread_history(client, question), options=options
        ):
            if isinstance(event, Answer):
                answer = event
            elif stream_ts is not None:
                streamed.append(event)
                if sum(len(s) for s in streamed) >= STREAM_BUFFER:
                    client.chat_appendStream(
                        channel=question.channel_id,
                        ts=stream_ts,
                        markdown_text=safe_markdown("".join(streamed)),
                    )
                    streamed.clear()
        assert answer is not None
    except Exception as exc:  # every failure gets a visible reply; the detail goes to the log
        text = failure_reply(exc, lang, event_id=question.event_id)
        if stream_ts is not None:
            client.chat_stopStream(channel=question.channel_id, ts=stream_ts, markdown_text="\n\n" + text)
        else:
            client.chat_update(channel=question.channel_id, ts=placeholder, text=text)
        raise AnswerFailed from exc
    if stream_ts is not None:
        rest = "".join(streamed) if answer.found else ""
        # A refusal streams nothing (the pipeline holds the marker back): send its message now.
        tail = rest or (None if answer.found else answer.text)
        stop_args: dict[str, Any] = {
            "channel": question.channel_id,
            "ts": stream_ts,
            "blocks": footer_blocks(answer, answer_id),
        }
        if tail:
            stop_args["markdown_text"] = safe_markdown(tail)
        client.chat_stopStream(**stop_args)
    else:
        client.chat_update(
            channel=question.channel_id,
            ts=placeholder,
            text=escape(answer.text)[:3000],
            blocks=answer_blocks(answer, answer_id),
        )
    record_answer(
        runtime,
        answer,
        answer_id,
        team_id=question.team_id,
        channel_id=question.channel_id,
        user_id=question.user_id,
        thread_ts=question.thread_ts,
    )
    return {"answer_id": answer_id}


def record_answer(
    runtime: BotRuntime,
    answer: Answer,
    answer_id: str,
    *,
    team_id: str | None,
    channel_id: str,
    user_id: str | None,
    thread_ts: str | None = None,
) -> None:
    """Count and log an answer the person has received (and remember its thread for follow-ups).
    A failure here is logged, not raised: the person has the answer, and raising would let
    Slack's retry post it a second time."""
    metrics.answered(answer)
    try:
        if thread_ts:
            runtime.threads.remember(thread_key(channel_id, thread_ts), THREAD_MEMORY_SECONDS)
        runtime.log_sink.write(
            "answers",
            answer_record(
                answer,
                answer_id=answer_id,
                outcome="answered" if answer.found else "not_found",
                team_id=team_id,
                channel_id=channel_id,
                user_id=user_id,
            ),
        )
    except (KotaeError, BotoCoreError, ClientError, OSError, sqlite3.Error):
        logger.exception("answer bookkeeping failed", extra={"answer_id": answer_id})


STREAM_BUFFER = 120  # characters per chat.appendStream call, to stay under rate limits


def start_stream(client: Any, runtime: BotRuntime, question: Question) -> str | None:
    """Open a streamed reply in the thread, or None where streaming is off or not allowed
    (then the answer is posted and updated instead)."""
    if not runtime.kotae.settings.slack_streaming or not question.team_id or not question.user_id:
        return None
    try:
        started = client.chat_startStream(
            channel=question.channel_id,
            thread_ts=question.thread_ts,
            recipient_team_id=question.team_id,
            recipient_user_id=question.user_id,
        )
    except SlackApiError as exc:
        logger.info("streaming not available here", extra={"error": str(exc.response.get("error"))})
        return None
    return str(started["ts"])
