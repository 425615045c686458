"""app_home_opened: the Home tab published for the person who opened it (bot/home.py).

Acked at once; the lazy listener reads the figures and calls views.publish
(https://docs.slack.dev/reference/events/app_home_opened,
https://docs.slack.dev/reference/methods/views.publish). Knowledge editors, those of
KOTAE_KNOWLEDGE_EDITORS and of any channel profile, get the dashboard, everyone else the usage
guide. The Home tab never fails the app: what cannot be read is said in the view, and anything
else that goes wrong while building it is logged and shown as a short notice with a reference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

if TYPE_CHECKING:
    from bot.profiles import ChannelProfiles
    from bot.runtime import RuntimeSource
    from kotae.settings import Settings


def _logger() -> Any:
    from aws_lambda_powertools import Logger  # the lazy listener's alone: the ack imports none of it

    return Logger(service="kotae-bot", child=True)


def editors_of(settings: Settings, profiles: ChannelProfiles) -> tuple[str, ...]:
    """Everyone who keeps some channel's knowledge: the setting's editors and every profile's."""
    from kotae.errors import ConfigError

    editors = list(settings.knowledge_editors)
    try:
        document = profiles.document()  # every profile, not one channel's
    except ConfigError as exc:  # the save listener reports the broken file; Home keeps the setting's
        _logger().warning("the Home tab cannot read the channel profiles", extra={"error": str(exc)})
        return tuple(editors)
    for profile in (document.default, *document.channels.values()):
        editors += [e for e in profile.editors or () if e not in editors]
    return tuple(editors)


def home_for(runtime: RuntimeSource, client: Any, user_id: str | None) -> dict[str, Any]:
    """The Home view for this person; never raises."""
    from datetime import UTC, datetime

    from bot import home
    from bot.editors import is_editor
    from kotae.errors import KotaeError, new_reference

    try:
        built = runtime()
        settings = built.kotae.settings
        editor = is_editor(client, user_id, editors_of(settings, built.profiles))
    except KotaeError as exc:  # settings the bot cannot use: the guide is right for everyone
        _logger().warning("the Home tab cannot tell who edits the knowledge", extra={"error": str(exc)})
        return home.usage_guide()
    if not editor:
        return home.usage_guide()
    try:
        from kotae.ops.home_source import source_for

        return home.dashboard(source_for(settings).figures(datetime.now(UTC)))
    except Exception:  # the Home tab must never fail the app (issue 15, "Bad input")
        reference = new_reference()
        _logger().exception("the Home tab figures failed", extra={"reference": reference})
        return home.unavailable(reference)


def register(app: Any, runtime: RuntimeSource) -> None:
    def ack_event(ack: Any) -> None:
        ack()

    def publish(event: dict[str, Any], client: Any) -> None:
        if event.get("tab") != "home":  # the Messages tab needs nothing from kotae
            return
        user_id = event.get("user")
        view = home_for(runtime, client, user_id)
        try:
            client.views_publish(user_id=user_id, view=view)
        except SlackApiError as exc:
            _logger().warning("could not publish the Home tab", extra={"error": exc.response.get("error")})

    app.event("app_home_opened")(ack=ack_event, lazy=[publish])
