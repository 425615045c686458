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
from kotae.ops import metrics
from kotae.settings import load_settings


@cache
def runtime() -> BotRuntime:
    return BotRuntime.from_settings(load_settings())


@cache
def slack_handler() -> SlackRequestHandler:
    return SlackRequestHandler(build_app(runtime()))


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # Lets Powertools expire an INPROGRESS answer record if this invocation times out, so
    # Slack's retry is not locked out until the record's own expiry.
    runtime().idempotency.register_lambda_context(context)
    try:
        return slack_handler().handle(event, context)
    finally:
        metrics.flush()
