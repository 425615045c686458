"""The Bolt app, built once per cold start."""

from __future__ import annotations

import os
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.listeners import direct_message, feedback, mention
from bot.runtime import BotRuntime
from kotae.errors import ConfigError


def build_app(runtime: BotRuntime) -> App:
    token = os.environ.get("SLACK_BOT_TOKEN")
    secret = os.environ.get("SLACK_SIGNING_SECRET")
    if not token or not secret:
        raise ConfigError("SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET must be set")
    settings = runtime.kotae.settings
    client_args: dict[str, Any] = {"token": token}
    if settings.slack_api_url:
        client_args["base_url"] = settings.slack_api_url.rstrip("/") + "/"
    app = App(
        client=WebClient(**client_args),
        signing_secret=secret,
        process_before_response=True,  # Lambda: nothing may run after the response
        token_verification_enabled=False,  # no auth.test at cold start; the token is checked on use
    )
    for listener in (mention, direct_message, feedback):
        listener.register(app, runtime)
    return app
