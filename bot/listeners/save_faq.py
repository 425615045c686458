"""Save as FAQ, opened: the message shortcut (callback ``save_faq``) and App Home's buttons
(action ``open_save_faq``) open the modal; its submission is bot/listeners/save_faq_submit.py.

The ack opens a loading modal at once (the trigger id is good for three seconds); the lazy
listener checks that the person is a knowledge editor (bot/editors.py), reads the thread and
replaces the modal with the prefilled form, or with a polite notice (and an ephemeral message in
the channel) for someone who may not save. bot/save_faq.py says why the replacement goes by
``external_id``. On a reply in an escalation thread, the question is the one the escalation
post's metadata carries (bot/escalation.py), not the post's text, and the saved item will name
the not-found answer it answers.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

from bot.listeners.feedback import warn
from bot.save_faq import CALLBACK_ID, MAX_TEXT, OPEN_ACTION, Prefill, Source, external_id, loading_view
from kotae.errors import KotaeError

if TYPE_CHECKING:
    from bot.runtime import BotRuntime, RuntimeSource

REFUSED = (
    "Only this channel's knowledge editors can save answers as FAQs. If this answer should be "
    "kept, please ask one of them. Thank you for keeping an eye on it!"
)
BROKEN = "Sorry, kotae cannot save FAQs right now: {message} (ref {reference})"
MAX_HOME_VALUE = 2000


def _user(body: dict[str, Any]) -> str | None:
    return (body.get("user") or {}).get("id")


def _update(client: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
    try:
        client.views_update(external_id=external_id(body.get("trigger_id")), view=view)
    except SlackApiError as exc:  # the person closed the modal already, say
        warn("could not fill in the Save as FAQ modal", error=exc.response.get("error"))


def _notice(client: Any, body: dict[str, Any], text: str) -> None:
    from bot.save_faq import notice_view

    _update(client, body, notice_view(text))


def _ready(runtime: RuntimeSource, client: Any, body: dict[str, Any]) -> BotRuntime | None:
    """The runtime, or None once the modal says why there is none."""
    try:
        return runtime()
    except KotaeError as exc:
        warn("Save as FAQ without a runtime", reference=exc.reference, error=str(exc))
        _notice(client, body, BROKEN.format(message=exc.user_message, reference=exc.reference))
        return None


def _refuse(client: Any, body: dict[str, Any], channel: str | None) -> None:
    _notice(client, body, REFUSED)
    if channel:
        try:
            client.chat_postEphemeral(channel=channel, user=_user(body), text=REFUSED)
        except SlackApiError as exc:  # kotae is not in that channel: the modal said it
            warn("could not tell a non-editor why", error=exc.response.get("error"))


def permalink(client: Any, channel: str, ts: str) -> str | None:
    try:
        link = client.chat_getPermalink(channel=channel, message_ts=ts).get("permalink")
    except SlackApiError as exc:
        warn("no permalink for a message", error=exc.response.get("error"))
        return None
    return link if isinstance(link, str) else None


def first_message(client: Any, channel: str, thread_ts: str) -> dict[str, Any] | None:
    """The thread's first message, with its metadata; None when kotae cannot read the thread."""
    try:
        page = client.conversations_replies(channel=channel, ts=thread_ts, limit=1, include_all_metadata=True)
    except SlackApiError as exc:
        warn("could not read the thread to save", error=exc.response.get("error"))
        return None
    messages = page.get("messages") or []
    return messages[0] if messages and isinstance(messages[0], dict) else None


def _question(client: Any, context: Any, channel: str, message: dict[str, Any]) -> tuple[str, Any]:
    """(question, escalation origin or None) for a message: the thread's first message, the
    escalated question when that is kotae's escalation post, or the message itself."""
    from bot.escalation import origin_of
    from bot.questions import BotIdentity
    from bot.save_faq import slack_text

    thread_ts = message.get("thread_ts")
    if not thread_ts or thread_ts == message.get("ts"):
        return slack_text(str(message.get("text") or "")), None
    first = first_message(client, channel, str(thread_ts))
    if first is None:
        return "", None
    origin = origin_of(first) if BotIdentity.of(context).wrote(first) else None
    return (origin.question, origin) if origin else (slack_text(str(first.get("text") or "")), None)


def from_message(runtime: RuntimeSource, client: Any, body: dict[str, Any], context: Any) -> None:
    """The shortcut's lazy listener: the form prefilled from the thread, for an editor."""
    from bot.editors import editor_ids, is_editor
    from bot.save_faq import form_view, slack_text
    from kotae.text import detect_language

    bot = _ready(runtime, client, body)
    if bot is None:
        return
    channel = str((body.get("channel") or {}).get("id") or "")
    message = body.get("message") or {}
    try:
        profile = bot.profiles.for_channel(channel)
    except KotaeError as exc:
        warn("Save as FAQ without a channel profile", reference=exc.reference, error=str(exc))
        _notice(client, body, BROKEN.format(message=exc.user_message, reference=exc.reference))
        return
    settings = bot.kotae.settings
    if not is_editor(client, _user(body), editor_ids(settings.knowledge_editors, profile.editors)):
        _refuse(client, body, channel)
        return
    question, origin = _question(client, context, channel, message)
    answer = slack_text(str(message.get("text") or ""))
    source = Source(
        scopes=profile.scopes,
        max_question=min(settings.max_question_chars, MAX_TEXT),
        channel=channel,
        message_ts=message.get("ts"),
        thread_ts=message.get("thread_ts"),
        permalink=permalink(client, channel, str(message.get("ts"))),
        origin=origin,
    )
    prefill = Prefill(question, answer, detect_language(question or answer), profile.scopes[:1])
    _update(client, body, form_view(prefill, source))


def _home_value(action: dict[str, Any]) -> dict[str, str]:
    try:
        value = json.loads(str(action.get("value") or "")[:MAX_HOME_VALUE])
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {k: value[k] for k in ("question", "answer", "answer_id") if isinstance(value.get(k), str)}


def home_scopes(client: Any, bot: BotRuntime, user_id: str | None) -> tuple[bool, tuple[str, ...]]:
    """(may save, scopes offered) for a save from App Home, where there is no channel: an
    editor by KOTAE_KNOWLEDGE_EDITORS or by any profile; the default profile's scopes plus
    those of the profiles that make the person an editor."""
    from bot.editors import is_editor

    document = bot.profiles.document()  # every profile, not one channel's
    scopes = list(document.default.scopes)
    allowed = is_editor(client, user_id, bot.kotae.settings.knowledge_editors)
    for profile in (document.default, *document.channels.values()):
        if profile.editors and is_editor(client, user_id, profile.editors):
            allowed = True
            scopes += [s for s in profile.scopes if s not in scopes]
    return allowed, tuple(scopes)


def from_home(runtime: RuntimeSource, client: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
    """The App Home button's lazy listener: the form prefilled from the button's value."""
    from bot.save_faq import form_view
    from kotae.text import detect_language

    bot = _ready(runtime, client, body)
    if bot is None:
        return
    try:
        allowed, scopes = home_scopes(client, bot, _user(body))
    except KotaeError as exc:
        warn("Save as FAQ without channel profiles", reference=exc.reference, error=str(exc))
        _notice(client, body, BROKEN.format(message=exc.user_message, reference=exc.reference))
        return
    if not allowed:
        _refuse(client, body, None)
        return
    value = _home_value(action)
    question = value.get("question", "")
    source = Source(
        scopes=scopes,
        max_question=min(bot.kotae.settings.max_question_chars, MAX_TEXT),
        answer_id=value.get("answer_id", "")[:64] or None,
    )
    prefill = Prefill(question, value.get("answer", ""), detect_language(question), scopes[:1])
    _update(client, body, form_view(prefill, source))


def register(app: Any, runtime: RuntimeSource) -> None:
    def open_loading(ack: Any, body: dict[str, Any], client: Any) -> None:
        ack()
        try:
            client.views_open(trigger_id=body.get("trigger_id"), view=loading_view(body.get("trigger_id")))
        except SlackApiError as exc:  # an expired trigger: nothing opened, nothing to fill in
            warn("could not open the Save as FAQ modal", error=exc.response.get("error"))

    def prefill_message(body: dict[str, Any], client: Any, context: Any) -> None:
        from_message(runtime, client, body, context)

    def prefill_home(body: dict[str, Any], client: Any, action: dict[str, Any]) -> None:
        from_home(runtime, client, body, action)

    app.message_shortcut(CALLBACK_ID)(ack=open_loading, lazy=[prefill_message])
    app.action(OPEN_ACTION)(ack=open_loading, lazy=[prefill_home])
