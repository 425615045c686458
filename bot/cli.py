"""`kotae slack`: the bot over Socket Mode on one machine.

The bot package adds this command to the core's CLI through the "kotae.commands" entry-point
group (pyproject.toml), so the core never imports the bot. Socket Mode needs no public URL:
https://docs.slack.dev/apis/events-api/using-socket-mode
"""

from __future__ import annotations

import os

from kotae.errors import ConfigError


def slack() -> None:
    """Run the Slack bot locally over Socket Mode (SLACK_APP_TOKEN, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET)."""
    app_token = os.environ.get("SLACK_APP_TOKEN")
    if not app_token:
        raise ConfigError("SLACK_APP_TOKEN (xapp-…) must be set for Socket Mode; see README 'Slack bot'")
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.app import SlackConnection, build_app
    from bot.runtime import BotRuntime
    from kotae.cli.console import out, settings

    # EMF metrics are for CloudWatch; on a laptop they would only clutter the terminal.
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    config = settings()
    runtime = BotRuntime.from_settings(config)  # built at start: a bad setting fails here, not later
    bolt = build_app(lambda: runtime, SlackConnection.from_settings(config))
    out.print("kotae is listening over Socket Mode; Ctrl-C stops it")
    SocketModeHandler(bolt, app_token).start()
