"""The Bolt app, built once per cold start from what the ack needs and nothing more.

Acking needs the bot token, the signing secret and the Web API's address; everything an answer
needs (the core, idempotency, the answer log, channel profiles) is reached through a
``RuntimeSource`` that the lazy listeners call, so the ack never builds it. Listeners and their
middleware import their heavy modules inside the functions that run in the lazy listener.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.listeners import (
    assistant,
    direct_message,
    escalation,
    feedback,
    feedback_reason,
    home,
    mention,
    save_faq,
    save_faq_submit,
    slash,
)
from kotae.errors import ConfigError

if TYPE_CHECKING:
    from bot.runtime import RuntimeSource
    from kotae.settings import Settings

ENV_PREFIX = "KOTAE_"  # kotae.settings.ENV_PREFIX; a test keeps the two equal
ACK_SETTINGS = ("slack_secret_id", "slack_api_url")
"""The fields of kotae.settings.Settings the ack reads, by their Settings names."""


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


def ack_setting(name: str) -> str | None:
    """One of ACK_SETTINGS as Settings would read it from the environment (KOTAE_ + the name,
    in any case), without importing pydantic-settings, which costs the cold ack ~100 ms.
    Empty counts as unset: every use of these settings treats "" and None alike."""
    if name not in ACK_SETTINGS:
        raise KeyError(f"{name} is not a setting the ack reads")
    wanted = (ENV_PREFIX + name).upper()
    values = [value for key, value in os.environ.items() if key.upper() == wanted]
    return values[-1] if values and values[-1] else None


@dataclass(frozen=True)
class SlackConnection:
    """What the Bolt app needs to verify requests and call Slack."""

    token: str
    signing_secret: str
    base_url: str | None = None  # a Web API base URL other than Slack's (tests, proxies)

    @classmethod
    def of(cls, secret_id: str | None, api_url: str | None) -> SlackConnection:
        token, secret = slack_credentials(secret_id)
        return cls(token, secret, api_url.rstrip("/") + "/" if api_url else None)

    @classmethod
    def from_environment(cls) -> SlackConnection:
        """The Lambda's connection: only the ack's own settings are read."""
        return cls.of(ack_setting("slack_secret_id"), ack_setting("slack_api_url"))

    @classmethod
    def from_settings(cls, settings: Settings) -> SlackConnection:
        return cls.of(settings.slack_secret_id, settings.slack_api_url)


def build_app(runtime: RuntimeSource, connection: SlackConnection | None = None) -> App:
    """The Bolt app with every listener; ``runtime`` is called only by the lazy listeners."""
    connection = connection or SlackConnection.from_environment()
    client_args: dict[str, Any] = {"token": connection.token}
    if connection.base_url:
        client_args["base_url"] = connection.base_url
    app = App(
        client=WebClient(**client_args),
        signing_secret=connection.signing_secret,
        process_before_response=True,  # Lambda: nothing may run after the response
        token_verification_enabled=False,  # no auth.test at cold start; the token is checked on use
    )
    answering = (mention, direct_message, slash, assistant, feedback, feedback_reason)
    knowledge_loop = (save_faq, save_faq_submit, escalation, home)  # README "Keeping the knowledge"
    for listener in (*answering, *knowledge_loop):
        listener.register(app, runtime)
    return app
