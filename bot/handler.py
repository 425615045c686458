"""The bot Lambda: API Gateway (REST, HTTP API) or Function URL events -> Bolt.

Listeners ack within Slack's 3 seconds; the answer runs in a lazy listener, which Bolt's Lambda
adapter starts by invoking this same function asynchronously (boto3's Lambda client, so the
standard AWS_ENDPOINT_URL_LAMBDA can redirect it). A cold start that only acks builds the Bolt
app and nothing else: the runtime (settings, the core, idempotency, the answer log, channel
profiles) is built by the first lazy listener that needs it.
"""

from __future__ import annotations

import sys
from functools import cache
from typing import TYPE_CHECKING, Any

from slack_bolt.adapter.aws_lambda import SlackRequestHandler

from bot.app import build_app
from bot.runtime import LazyRuntime

if TYPE_CHECKING:
    from bot.runtime import BotRuntime

RUNTIME = LazyRuntime()


def runtime() -> BotRuntime:
    """The process's runtime, built on first use."""
    return RUNTIME()


def install_runtime(runtime: BotRuntime | None = None) -> None:
    """Answer with this runtime from now on (tests install one built with fakes), or with None
    build it from the environment again at its next use. The Bolt app is rebuilt too, from the
    environment, at the next event."""
    RUNTIME.install(runtime)
    slack_handler.cache_clear()


@cache
def slack_handler() -> SlackRequestHandler:
    return SlackRequestHandler(build_app(RUNTIME))


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    RUNTIME.enter(context)  # idempotency learns this invocation's remaining time (bot/runtime.py)
    try:
        return slack_handler().handle(event, context)
    finally:
        flush_metrics()


def flush_metrics() -> None:
    """Print this invocation's EMF line. Only lazy listeners record metrics, and they import
    kotae.ops.metrics to do it; an ack-only cold start does not import it (Powertools Metrics
    and pydantic) just to find nothing to print."""
    # Where lazy listeners run in threads of this process (the tests' Lambda stand-in, Socket
    # Mode), one may still be importing the module: it has no flush yet, and nothing to print.
    flush = getattr(sys.modules.get("kotae.ops.metrics"), "flush", None)
    if flush is not None:
        flush()
