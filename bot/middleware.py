"""Listener middleware of the question listeners (mentions, messages, /kotae).

Bolt runs a listener's middleware before its ack. On Lambda it runs it again in the second
invocation, the one that runs the lazy listener: Bolt re-sends the request to the function with
``x-slack-bolt-lazy-only`` set and dispatches it through every middleware once more
(slack_bolt/adapter/aws_lambda/lazy_listener_runner.py). In-process runners (Socket Mode) run
middleware once and hand the lazy listener a deep copy of the request's context. So:

* ``questions_only`` is cheap and decides in the ack: a bot's message or an edit is acknowledged
  there and no lazy invocation is started for it;
* ``with_channel_profile`` needs the runtime, so on Lambda it waits for the lazy invocation, and the
  ack stays as light as a bare Bolt app; what it leaves in the context survives a deep copy
  and reaches listeners as their ``channel_profile`` argument (Bolt injects context keys).

https://docs.slack.dev/tools/bolt-python/concepts/listener-middleware
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_bolt import BoltContext, BoltRequest, BoltResponse

from kotae.errors import KotaeError

if TYPE_CHECKING:
    from bot.profiles import ChannelProfile
    from bot.runtime import RuntimeSource

Next = Callable[[], None]


def is_question(event: dict[str, Any]) -> bool:
    """Whether a person wrote this event: not a bot's message, and for message events not a
    subtype (an edit, deletion, join or file comment)."""
    if event.get("bot_id") or event.get("subtype") == "bot_message":
        return False
    return not (event.get("type") == "message" and event.get("subtype"))


def questions_only(body: dict[str, Any], next: Next) -> BoltResponse | None:
    """Acknowledge events that are not people's questions and stop them here."""
    if not is_question(body.get("event") or {}):
        return BoltResponse(status=200, body="")
    return next()  # type: ignore[func-returns-value]


@dataclass(frozen=True)
class ProfileLookup:
    """The asking channel's profile, or the error that kept it from being read; the error is
    raised by whoever uses the profile, inside the answer, so the person sees a failure reply."""

    profile: ChannelProfile | None = None
    error: KotaeError | None = None

    def get(self) -> ChannelProfile:
        if self.error is not None:
            raise self.error
        assert self.profile is not None
        return self.profile


def lazy_work_runs_later(req: BoltRequest) -> bool:
    """True in a Lambda invocation that only acks: Bolt will run the lazy listener in another
    invocation, through this middleware again."""
    return "lambda_request" in req.context and not req.lazy_only


def with_channel_profile(runtime: RuntimeSource) -> Callable[..., None]:
    """Middleware that puts the channel's ``ProfileLookup`` in ``context["channel_profile"]``."""

    def look_up_channel_profile(req: BoltRequest, context: BoltContext, next: Next) -> None:
        if not lazy_work_runs_later(req):
            try:
                lookup = ProfileLookup(profile=runtime().profiles.for_channel(context.channel_id or ""))
            except KotaeError as exc:  # a broken profile document, or settings the runtime cannot use
                lookup = ProfileLookup(error=exc)
            context["channel_profile"] = lookup
        next()

    return look_up_channel_profile
