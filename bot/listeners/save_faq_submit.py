"""Save as FAQ, submitted: checked in the ack, written by the lazy listener, then confirmed.

A submission that does not validate is shown in the modal (``response_action: errors``) and
nothing is written. The lazy listener writes the item (kotae.indexing.knowledge_writer: the
knowledge table in AWS, whose stream indexes it; the embedded store on one machine), then says
so in the thread the answer came from (or, saved from App Home, in a DM), and for an answer to
an escalated question, in the thread where the question was asked. A write that fails tells
the person privately, with a reference id that is also in the log line. The form is built only
for editors, and its metadata is Slack's to carry, so the submission is not checked again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

from bot.listeners.feedback import warn
from bot.save_faq import CALLBACK_ID, Draft, InvalidSave, submitted

if TYPE_CHECKING:
    from bot.runtime import RuntimeSource

ALREADY = "This answer was saved as an FAQ before ({key}); edit it in the knowledge instead."
UNWRITTEN = "the knowledge could not be written right now."
FAILED = "Sorry, the FAQ was not saved: {message} (ref {reference})"


def _user(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("id") or "")


def _tell(client: Any, draft: Draft, user: str, text: str) -> None:
    """A private word to the saver: an ephemeral in the thread, or a DM from App Home."""
    from bot.formatting import plain_reply

    source = draft.source
    try:
        if source.channel:
            client.chat_postEphemeral(
                channel=source.channel, user=user, thread_ts=source.thread, text=plain_reply(text)
            )
        else:
            client.chat_postMessage(channel=user, text=plain_reply(text))
    except SlackApiError as exc:
        warn("could not tell the saver", error=exc.response.get("error"))


def _post(client: Any, what: str, **message: Any) -> None:
    try:
        client.chat_postMessage(**message)
    except SlackApiError as exc:  # the item is saved; only the word about it is lost
        warn(f"could not post the {what}", error=exc.response.get("error"))


def confirm(client: Any, draft: Draft, user: str) -> None:
    """Where the answer came from, who saved it and what; and the asker's thread, if any."""
    from bot.escalation import knowledge_has_it, shorten
    from bot.formatting import escape, slack_link
    from bot.sanitize import defuse

    source = draft.source
    link = f" ({slack_link(source.permalink, 'source')})" if source.permalink else ""
    text = f"<@{user}> saved this as an FAQ: “{escape(defuse(shorten(draft.question, 300)))}”{link}"
    if source.channel:
        _post(client, "save confirmation", channel=source.channel, thread_ts=source.thread, text=text)
    else:
        _post(client, "save confirmation", channel=user, text=text)
    if source.origin is not None:
        _post(
            client,
            "news to the asker's thread",
            channel=source.origin.channel,
            thread_ts=source.origin.thread_ts,
            text=knowledge_has_it(source.origin.question, source.permalink),
        )


def save(runtime: RuntimeSource, client: Any, draft: Draft, user: str) -> None:
    """Write the item and say so; or tell the saver why it was not written."""
    import sqlite3
    import uuid
    from datetime import UTC, datetime

    from aws_lambda_powertools import Logger
    from botocore.exceptions import BotoCoreError, ClientError

    from bot.save_faq import item_fields, item_key
    from kotae.errors import KotaeError, new_reference
    from kotae.indexing.knowledge_writer import ItemExists, writer_for

    key = item_key(draft.source, uuid.uuid4().hex[:16])
    fields = item_fields(draft, user_id=user, now=datetime.now(UTC).isoformat(timespec="seconds"))
    try:
        writer_for(runtime().kotae).add(key, "faq", fields)
    except ItemExists:
        _tell(client, draft, user, ALREADY.format(key=key))
        return
    except (KotaeError, BotoCoreError, ClientError, OSError, sqlite3.Error) as exc:
        reference = exc.reference if isinstance(exc, KotaeError) else new_reference()
        message = exc.user_message if isinstance(exc, KotaeError) else UNWRITTEN
        Logger(service="kotae-bot", child=True).exception(
            "FAQ not saved", extra={"reference": reference, "item_key": key}
        )
        _tell(client, draft, user, FAILED.format(message=message, reference=reference))
        return
    confirm(client, draft, user)


def register(app: Any, runtime: RuntimeSource) -> None:
    def check(ack: Any, view: dict[str, Any]) -> None:
        try:
            result = submitted(view)
        except InvalidSave as exc:  # not kotae's form: close it, keep nothing
            warn("Save as FAQ modal without its metadata", error=str(exc))
            ack()
            return
        if isinstance(result, Draft):
            ack()
        else:
            ack(response_action="errors", errors=result)

    def write(body: dict[str, Any], view: dict[str, Any], client: Any) -> None:
        try:
            result = submitted(view)
        except InvalidSave:
            return  # logged by the ack
        if isinstance(result, Draft):
            save(runtime, client, result, _user(body))

    app.view_submission(CALLBACK_ID)(ack=check, lazy=[write])
