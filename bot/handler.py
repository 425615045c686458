"""The bot Lambda: API Gateway (REST, HTTP API) or Function URL events -> Bolt.

Listeners ack within Slack's 3 seconds; the answer runs in a lazy listener, which Bolt's Lambda
adapter starts by invoking this same function asynchronously (boto3's Lambda client, so the
standard AWS_ENDPOINT_URL_LAMBDA can redirect it).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from slack_bolt.adapter.aws_lambda import SlackRequestHandler

from bot.app import build_app
from bot.runtime import BotRuntime
from kotae.settings import load_settings


@cache
def slack_handler() -> SlackRequestHandler:
    return SlackRequestHandler(build_app(BotRuntime.from_settings(load_settings())))


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return slack_handler().handle(event, context)
