"""The Bolt app, built once per cold start."""

from __future__ import annotations

import os
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.listeners import assistant, direct_message, feedback, mention, slash
from bot.runtime import BotRuntime
from kotae.errors import ConfigError


def slack_credentials(secret_id: str | None) -> tuple[str, str]:
    """(bot token, signing secret): from Secrets Manager when KOTAE_SLACK_SECRET_ID is set
    (Powertools caches it for the life of the container), else from the environment."""
    values: dict[str, Any] = dict(os.environ)
    if secret_id:
        from aws_lambda_powertools.utilities.parameters import get_secret
        from aws_lambda_powertools.utilities.parameters.exceptions import (
            GetParameterError,
            TransformParameterError,
        )

        try:
            values = dict(get_secret(secret_id, transform="json", max_age=3600))  # type: ignore[arg-type]
        except (GetParameterError, TransformParameterError) as exc:
            raise ConfigError(
                f"KOTAE_SLACK_SECRET_ID={secret_id}: cannot read the Slack secret ({exc})"
            ) from exc
    token, secret = values.get("SLACK_BOT_TOKEN"), values.get("SLACK_SIGNING_SECRET")
    if not token or not secret:
        where = f"secret {secret_id}" if secret_id else "the environment"
        raise ConfigError(f"SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET must be set in {where}")
    return str(token), str(secret)


def build_app(runtime: BotRuntime) -> App:
    settings = runtime.kotae.settings
    token, secret = slack_credentials(settings.slack_secret_id)
    client_args: dict[str, Any] = {"token": token}
    if settings.slack_api_url:
        client_args["base_url"] = settings.slack_api_url.rstrip("/") + "/"
    app = App(
        client=WebClient(**client_args),
        signing_secret=secret,
        process_before_response=True,  # Lambda: nothing may run after the response
        token_verification_enabled=False,  # no auth.test at cold start; the token is checked on use
    )
    for listener in (mention, direct_message, feedback, slash, assistant):
        listener.register(app, runtime)
    return app
