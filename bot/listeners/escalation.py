""" "Ask a person" under a not-found answer: the question posted to the escalation channel.

The click is acked at once; the lazy listener posts the question to the channel the asking
channel's profile (or KOTAE_ESCALATION_CHANNEL) names, pinging its user group when the profile
names one, with a link back and the metadata that lets "Save as FAQ" close the loop
(bot/escalation.py); then kotae replaces the button with where the question went, remembers the
answer id, and says in the asker's thread that people have the question. A second click of the
same answer posts nothing: the clicker is told privately that it was asked. A post Slack refuses
(kotae not in the channel, a channel that is gone) is told to the clicker privately, with a
reference id that is also in the log line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

from bot.escalation import ACTION
from bot.listeners.feedback import warn

if TYPE_CHECKING:
    from bot.escalation import Origin
    from bot.idempotency import ThreadMemory
    from bot.runtime import RuntimeSource


def _where(body: dict[str, Any]) -> tuple[str, str, str]:
    """(channel, answer message ts, thread ts) of the clicked answer."""
    container = body.get("container") or {}
    message = body.get("message") or {}
    channel = str(container.get("channel_id") or (body.get("channel") or {}).get("id") or "")
    ts = str(container.get("message_ts") or message.get("ts") or "")
    return channel, ts, str(container.get("thread_ts") or message.get("thread_ts") or ts)


def _private(client: Any, channel: str, user: str, thread_ts: str, text: str) -> None:
    try:
        client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread_ts, text=text)
    except SlackApiError as exc:
        warn("could not tell the clicker", error=exc.response.get("error"))


def post_question(
    client: Any, target: str, origin: Origin, *, link_ts: str, user: str, usergroup: str | None
) -> str | None:
    """Post the question, linking to the message ``link_ts``; None when posted, else Slack's error."""
    from bot.escalation import escalation_post
    from bot.listeners.save_faq import permalink

    link = permalink(client, origin.channel, link_ts)
    try:
        client.chat_postMessage(
            channel=target, **escalation_post(origin, asker=user, permalink=link, usergroup=usergroup)
        )
    except SlackApiError as exc:
        return str(exc.response.get("error"))
    return None


def _memory_errors() -> tuple[type[Exception], ...]:
    """What the thread memory raises when its store fails (DynamoDB or SQLite)."""
    import sqlite3

    from botocore.exceptions import BotoCoreError, ClientError

    return BotoCoreError, ClientError, sqlite3.Error


def asked_before(threads: ThreadMemory, answer_id: str) -> bool:
    """Whether this answer's question was posted already; False when the memory cannot say
    (logged): a question posted twice is better than one lost."""
    from bot.escalation import asked_key

    try:
        return threads.known(asked_key(answer_id))
    except _memory_errors() as exc:
        warn("cannot tell whether the question was asked before", error=str(exc))
        return False


def remember_asked(threads: ThreadMemory, answer_id: str) -> None:
    from bot.escalation import ASKED_MEMORY_SECONDS, asked_key

    try:
        threads.remember(asked_key(answer_id), ASKED_MEMORY_SECONDS)
    except _memory_errors() as exc:  # the button is replaced all the same
        warn("cannot remember that the question was asked", error=str(exc))


def replace_button(client: Any, body: dict[str, Any], action: dict[str, Any], target: str) -> None:
    """The answer's "Ask a person" button becomes "Asked in #channel" (chat.update of the
    clicked message, whose blocks the click carries)."""
    from bot.escalation import asked_blocks

    channel, ts, _ = _where(body)
    message = body.get("message") or {}
    blocks = asked_blocks(message.get("blocks"), str(action.get("block_id") or ""), target)
    if blocks is None:
        warn("the clicked answer carries no Ask a person block to replace", block_id=action.get("block_id"))
        return
    try:
        client.chat_update(channel=channel, ts=ts, text=str(message.get("text") or ""), blocks=blocks)
    except SlackApiError as exc:  # the memory still keeps a second click from posting
        warn("could not replace the Ask a person button", error=exc.response.get("error"))


def escalate(runtime: RuntimeSource, client: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
    from bot.escalation import (
        NO_CHANNEL,
        Origin,
        already_asked_notice,
        asked_notice,
        clicked,
        escalation_channel,
        failure_notice,
    )
    from kotae.errors import KotaeError, new_reference

    channel, ts, thread_ts = _where(body)
    user = str((body.get("user") or {}).get("id") or "")
    escalation = clicked(action.get("value"))
    if escalation is None:
        warn("an Ask a person click kotae did not write", block_id=action.get("block_id"))
        return
    try:
        bot = runtime()
        profile = bot.profiles.for_channel(channel)
    except KotaeError as exc:
        warn("cannot escalate without a runtime", reference=exc.reference, error=str(exc))
        _private(client, channel, user, thread_ts, f"Sorry, {exc.user_message} (ref {exc.reference})")
        return
    target = escalation_channel(profile.escalation_channel, bot.kotae.settings.escalation_channel)
    if target is None:
        _private(client, channel, user, thread_ts, NO_CHANNEL)
        return
    if asked_before(bot.threads, escalation.answer_id):
        _private(client, channel, user, thread_ts, already_asked_notice(target))
        return
    origin = Origin(channel, thread_ts, escalation.answer_id, escalation.question)
    # The link goes to the answer the person clicked under, inside their thread.
    error = post_question(
        client, target, origin, link_ts=ts, user=user, usergroup=profile.escalation_usergroup
    )
    if error is not None:
        reference = new_reference()
        warn("could not post the question for people", reference=reference, error=error, channel=target)
        _private(client, channel, user, thread_ts, failure_notice(error, target, reference))
        return
    remember_asked(bot.threads, escalation.answer_id)
    replace_button(client, body, action, target)
    try:
        client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=asked_notice(target))
    except SlackApiError as exc:
        warn("could not tell the asker's thread", error=exc.response.get("error"))


def register(app: Any, runtime: RuntimeSource) -> None:
    def ack_click(ack: Any) -> None:
        ack()

    def hand_over(body: dict[str, Any], client: Any, action: dict[str, Any]) -> None:
        escalate(runtime, client, body, action)

    app.action(ACTION)(ack=ack_click, lazy=[hand_over])
