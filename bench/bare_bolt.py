"""A bare Bolt-on-Lambda app: the baseline bench/bot_ack.py measures kotae's cold start against.

What every Bolt app on Lambda pays for and nothing more: one app_mention listener that acks
and leaves the reply to a lazy listener, behind Bolt's Lambda adapter. It is built the way
bot/app.py builds kotae's app (a WebClient carrying the token, pointed at the stand-in Web API
by KOTAE_SLACK_API_URL; process_before_response; no auth.test at cold start) and, like
bot.handler, builds it on the first invocation, so the two differ only in what kotae adds.
Nothing of kotae is imported here.

The lazy reply runs in a second invocation (Bolt invokes the function again through boto3's
Lambda client); the benchmark's stand-in accepts that invocation and does nothing with it.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.aws_lambda import SlackRequestHandler
from slack_sdk import WebClient


def _ack(ack: Any) -> None:
    ack()


def _reply(event: dict[str, Any], client: Any) -> None:
    client.chat_postMessage(channel=event["channel"], thread_ts=event["ts"], text="Hello from bare Bolt")


def build_app() -> App:
    # The client carries the token, as in bot/app.py: passing token= as well makes Bolt warn
    # that the client's token wins.
    client_args: dict[str, Any] = {"token": os.environ["SLACK_BOT_TOKEN"]}
    if base_url := os.environ.get("KOTAE_SLACK_API_URL"):
        client_args["base_url"] = base_url.rstrip("/") + "/"
    app = App(
        client=WebClient(**client_args),
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        # https://docs.slack.dev/tools/bolt-python/concepts/lazy-listeners
        process_before_response=True,
        token_verification_enabled=False,
    )
    app.event("app_mention")(ack=_ack, lazy=[_reply])
    return app


@cache
def slack_handler() -> SlackRequestHandler:
    return SlackRequestHandler(build_app())


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return slack_handler().handle(event, context)
