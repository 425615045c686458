""" "Ask a person" under a not-found answer: the question posted to the escalation channel.

The click is acked at once; the lazy listener posts the question to the channel the asking
channel's profile (or KOTAE_ESCALATION_CHANNEL) names, pinging its user group when the profile
names one, with a link back and the metadata that lets "Save as FAQ" close the loop
(bot/escalation.py); then kotae says in the asker's thread that people have the question. A
post Slack refuses (kotae not in the channel, a channel that is gone) is told to the clicker
privately, with a reference id that is also in the log line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

from bot.escalation import ACTION
from bot.listeners.feedback import warn

if TYPE_CHECKING:
    from bot.escalation import Origin
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


def escalate(runtime: RuntimeSource, client: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
    from bot.escalation import NO_CHANNEL, Origin, asked_notice, clicked, escalation_channel, failure_notice
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
