"""Answer one Slack question: a sign that the answer is coming at once, the answer, never silence.

One flow for every kind of question (``respond_with``); where the answer goes is the
responder's business (bot/responders.py). Thread answers (mentions, DMs, follow-ups) are given
once per Slack event id; /kotae answers are private. Errors never reach the user as stack
traces: they see the error's safe message and a short reference id that is also in the log line.
"""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency import idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
)
from botocore.exceptions import BotoCoreError, ClientError

from bot import budgeting
from bot.escalation import escalation_channel
from bot.formatting import plain_reply
from bot.middleware import ProfileLookup
from bot.questions import PLACEHOLDER, BotIdentity, Question, show_status, thread_history, thread_key
from bot.responders import EphemeralResponder, PostThenUpdate, Responder, StreamResponder
from bot.runtime import BotRuntime, RuntimeSource
from bot.steps import TaskDisplayMode
from kotae.errors import KotaeError, StoreError, new_reference
from kotae.models import Answer, Turn
from kotae.ops import metrics
from kotae.ops.answer_log import answer_record
from kotae.text import detect_language

logger = Logger(service="kotae-bot", child=True)
FAILED = {
    "en": "Sorry, I could not answer that: {message} (ref {reference})",
    "ja": "回答できませんでした: {message} (参照番号 {reference})",
}
THREAD_MEMORY_SECONDS = 7 * 24 * 3600


def failure_reply(exc: Exception, lang: str, **log: Any) -> str:
    """What a person sees when answering failed: a safe message and a reference id that is
    also in the log line with the exception (never the exception text itself). Plain text:
    whoever sends it makes it safe for Slack (the responders, ``answer_in_thread``)."""
    metrics.answer_failed()
    reference = exc.reference if isinstance(exc, KotaeError) else new_reference()
    message = exc.user_message if isinstance(exc, KotaeError) else KotaeError.user_message
    logger.exception("answer failed", extra={"reference": reference, **log})
    return FAILED.get(lang, FAILED["en"]).format(message=message, reference=reference)


class AnswerFailed(Exception):
    """Answering failed and the person has seen the error reply. Raised through Powertools so
    it drops the idempotency record and Slack's retry of the event is answered."""


def respond_with(
    responder: Responder,
    runtime: BotRuntime,
    question: Question,
    profile: ProfileLookup,
    *,
    history: Callable[[], Sequence[Turn]] = tuple,
    **log: Any,
) -> str | None:
    """Answer the question through the responder and record it; returns the answer id, or
    None when a budget refused the question (the person has been told when to ask again).

    Every failure while answering gets a visible reply (the detail goes to the log) and is
    raised as AnswerFailed."""
    lang = detect_language(question.text)
    responder = responder.start()
    try:
        channel = profile.get()
        # Budgets first: a refused question reaches neither retrieval nor the model.
        refused = budgeting.refusal_text(runtime, question, channel, lang)
        if refused is not None:
            responder.fail(refused)
            return None
        answer = None
        options = channel.ask_options()
        for event in runtime.kotae.pipeline.ask_stream(question.text, history=history(), options=options):
            if isinstance(event, Answer):
                answer = event
            else:
                responder.append(event)
        assert answer is not None
    except Exception as exc:
        responder.fail(failure_reply(exc, lang, **log))
        raise AnswerFailed from exc
    answer_id = uuid.uuid4().hex
    escalate = escalation_channel(channel.escalation_channel, runtime.kotae.settings.escalation_channel)
    responder.finish(answer, answer_id, escalate=escalate is not None)
    record_answer(
        runtime,
        answer,
        answer_id,
        team_id=question.team_id,
        channel_id=question.channel_id,
        user_id=question.user_id,
        thread_ts=question.thread_ts or None,
    )
    budgeting.spend(runtime, question, channel, answer)
    return answer_id


def ready_runtime(
    runtime: RuntimeSource, reply: Callable[[str], Any], text: str, **log: Any
) -> BotRuntime | None:
    """The runtime, or None once the person has been told it cannot be built (settings that do
    not validate, a store that cannot be opened). The ack did not need it, so this is the first
    place such a mistake shows."""
    try:
        return runtime()
    except KotaeError as exc:
        reply(failure_reply(exc, detect_language(text), **log))
        return None


def answer_in_thread(
    client: Any,
    runtime: RuntimeSource,
    question: Question,
    profile: ProfileLookup,
    bot: BotIdentity | None = None,
) -> None:
    """Answer a question in its thread once per Slack event id, however often Slack delivers it.
    ``bot`` is kotae's identity (its thread messages are its turns of the history)."""

    def post(text: str) -> None:
        client.chat_postMessage(
            channel=question.channel_id, thread_ts=question.thread_ts, text=plain_reply(text)
        )

    ready = ready_runtime(runtime, post, question.text, event_id=question.event_id)
    if ready is None:
        return
    once = idempotent_function(
        data_keyword_argument="question",
        persistence_store=ready.persistence,
        config=ready.idempotency,
        key_prefix="kotae-answer",
    )(_answer)
    try:
        once(client=client, runtime=ready, question=question, profile=profile, bot=bot or BotIdentity())
    except IdempotencyAlreadyInProgressError:
        logger.info("duplicate delivery ignored", extra={"event_id": question.event_id})
    except AnswerFailed:
        pass  # replied and logged in respond_with
    except IdempotencyPersistenceLayerError as exc:  # the dedupe table itself is failing
        failure = StoreError("the bot's dedupe table is unavailable")
        failure.__cause__ = exc
        post(failure_reply(failure, detect_language(question.text), event_id=question.event_id))


def _answer(
    client: Any, runtime: BotRuntime, question: Question, profile: ProfileLookup, bot: BotIdentity
) -> dict[str, str | None]:
    """The once-per-event part; what it returns is what a duplicate delivery gets back."""
    lang = detect_language(question.text)
    show_status(client, question, lang)
    settings = runtime.kotae.settings
    responder = thread_responder(
        client, question, lang, streaming=settings.slack_streaming, task_display_mode=settings.slack_task_display_mode
    )
    answer_id = respond_with(
        responder,
        runtime,
        question,
        profile,
        history=lambda: thread_history(client, question, bot),
        event_id=question.event_id,
    )
    return {"answer_id": answer_id}


def thread_responder(
    client: Any, question: Question, lang: str, *, streaming: bool, task_display_mode: TaskDisplayMode = "timeline"
) -> Responder:
    """A stream where it is on and allowed (it needs the recipient), else post then update."""
    posted = PostThenUpdate(
        client, question.channel_id, question.thread_ts, PLACEHOLDER.get(lang, PLACEHOLDER["en"])
    )
    if not streaming or not question.team_id or not question.user_id:
        return posted
    return StreamResponder(
        client,
        question.channel_id,
        question.thread_ts,
        team_id=question.team_id,
        user_id=question.user_id,
        fallback=posted,
        task_display_mode=task_display_mode,
    )


def answer_privately(
    respond: Any, runtime: RuntimeSource, question: Question, profile: ProfileLookup
) -> None:
    """/kotae: the answer only the asker sees, replacing the command's acknowledgement."""
    responder = EphemeralResponder(respond)
    bot = ready_runtime(runtime, responder.fail, question.text, command=True)
    if bot is None:
        return
    # The person has seen any failure (respond_with replied); a command has no retry to enable.
    with contextlib.suppress(AnswerFailed):
        respond_with(responder, bot, question, profile, command=True)


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
                outcome="blocked" if answer.blocked else "answered" if answer.found else "not_found",
                team_id=team_id,
                channel_id=channel_id,
                user_id=user_id,
            ),
        )
    except (KotaeError, BotoCoreError, ClientError, OSError, sqlite3.Error):
        logger.exception("answer bookkeeping failed", extra={"answer_id": answer_id})
