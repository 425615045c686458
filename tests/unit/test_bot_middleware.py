"""The question listeners' middleware: what it lets through, and where it looks profiles up.

On Lambda, Bolt dispatches the lazy listener's invocation through middleware again; in-process
runners (Socket Mode) dispatch once and give the lazy listener a deep copy of the context. The
Lambda path is exercised end to end in tests/functional/test_bot.py; here the middleware is
called directly and through an in-process Bolt app.
"""

from __future__ import annotations

import json
import threading
import time
from types import SimpleNamespace

import pytest
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from bot.middleware import (
    ProfileLookup,
    is_question,
    lazy_work_runs_later,
    questions_only,
    with_channel_profile,
)
from bot.profiles import ChannelProfile, ChannelProfiles
from kotae.errors import ConfigError
from tests.standins.slack import slack_api

SECRET = "middleware-secret"


@pytest.mark.parametrize(
    ("event", "question"),
    [
        pytest.param({"type": "app_mention", "user": "U1", "text": "hi"}, True, id="mention"),
        pytest.param({"type": "message", "user": "U1", "text": "hi"}, True, id="message"),
        pytest.param({"type": "app_mention", "bot_id": "B1"}, False, id="mention-by-a-bot"),
        pytest.param({"type": "app_mention", "subtype": "bot_message"}, False, id="bot-message-mention"),
        pytest.param({"type": "message", "bot_id": "B1"}, False, id="bot-message"),
        pytest.param({"type": "message", "subtype": "message_changed"}, False, id="edit"),
        pytest.param({"type": "message", "subtype": "channel_join"}, False, id="join"),
        # an app_mention is only dropped for a bot subtype, as before the middleware existed
        pytest.param(
            {"type": "app_mention", "subtype": "file_share", "user": "U1"}, True, id="mention-with-file"
        ),
    ],
)
def test_only_peoples_messages_are_questions(event, question) -> None:
    assert is_question(event) is question


def test_a_non_question_is_acknowledged_and_stopped() -> None:
    passed: list[bool] = []
    response = questions_only({"event": {"type": "message", "bot_id": "B1"}}, lambda: passed.append(True))
    assert response is not None and response.status == 200 and passed == []
    assert questions_only({"event": {"type": "message", "user": "U1"}}, lambda: passed.append(True)) is None
    assert passed == [True]


def request(*, lambda_ack: bool = False, lazy_only: bool = False, channel: str = "CHR") -> BoltRequest:
    body = {"type": "event_callback", "team_id": "T1", "event": {"type": "app_mention", "channel": channel}}
    headers = {"content-type": "application/json"}
    if lazy_only:
        headers["x-slack-bolt-lazy-only"] = "1"
    req = BoltRequest(body=json.dumps(body), headers=headers)
    if lambda_ack:
        req.context["lambda_request"] = {
            "body": "..."
        }  # what Bolt's Lambda adapter sets on the first invocation
    return req


def runtime_with(profiles: ChannelProfiles):
    built: list[object] = []

    def runtime():
        built.append(profiles)
        return SimpleNamespace(profiles=profiles)

    return runtime, built


@pytest.fixture
def profiles(tmp_path) -> ChannelProfiles:
    path = tmp_path / "profiles.json"
    path.write_text(json.dumps({"channels": {"CHR": {"scopes": ["public", "hr"]}}}))
    return ChannelProfiles(path)


def run_middleware(middleware, req: BoltRequest) -> list[bool]:
    passed: list[bool] = []
    middleware(req=req, context=req.context, next=lambda: passed.append(True))
    return passed


def test_the_lambda_ack_leaves_the_profile_to_the_lazy_invocation(profiles) -> None:
    runtime, built = runtime_with(profiles)
    req = request(lambda_ack=True)
    assert lazy_work_runs_later(req)
    assert run_middleware(with_channel_profile(runtime), req) == [True]
    assert built == [] and "channel_profile" not in req.context


@pytest.mark.parametrize(
    "req",
    [
        pytest.param(request(lazy_only=True), id="lambda-lazy-invocation"),
        pytest.param(request(), id="in-process"),
    ],
)
def test_where_the_answer_runs_the_profile_is_looked_up(profiles, req) -> None:
    runtime, _ = runtime_with(profiles)
    assert run_middleware(with_channel_profile(runtime), req) == [True]
    assert req.context["channel_profile"].get().scopes == ("public", "hr")


def test_a_broken_profile_document_is_kept_for_the_answer_to_report(tmp_path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    runtime, _ = runtime_with(ChannelProfiles(broken))
    req = request(lazy_only=True)
    assert run_middleware(with_channel_profile(runtime), req) == [True]
    with pytest.raises(ConfigError, match="not a valid profile file"):
        req.context["channel_profile"].get()


def test_a_runtime_that_cannot_be_built_is_kept_for_the_answer_to_report() -> None:
    def runtime():
        raise ConfigError("invalid setting: KOTAE_TOP_K")

    req = request(lazy_only=True)
    assert run_middleware(with_channel_profile(runtime), req) == [True]
    with pytest.raises(ConfigError, match="KOTAE_TOP_K"):
        req.context["channel_profile"].get()


def signed(body: str) -> BoltRequest:
    ts = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body)
    headers = {
        "content-type": "application/json",
        "x-slack-request-timestamp": ts,
        "x-slack-signature": signature,
    }
    return BoltRequest(body=body, headers=headers)


def test_in_process_the_lazy_listener_gets_the_profile_looked_up_in_the_ack(profiles) -> None:
    # GIVEN an in-process Bolt app (as under Socket Mode) with the question middleware
    runtime, built = runtime_with(profiles)
    received: list[ProfileLookup] = []
    done = threading.Event()

    def answer(channel_profile: ProfileLookup) -> None:
        received.append(channel_profile)
        done.set()

    with slack_api() as slack:
        app = App(
            client=WebClient(token="xoxb-test", base_url=slack.url + "/"),
            signing_secret=SECRET,
            process_before_response=True,
            token_verification_enabled=False,
        )
        app.event("app_mention", middleware=[questions_only, with_channel_profile(runtime)])(
            ack=lambda ack: ack(), lazy=[answer]
        )

        def mention(event_id: str, **extra) -> BoltRequest:
            event = {
                "type": "app_mention",
                "user": "U1",
                "text": "hi",
                "ts": "1.0",
                "channel": "CHR",
                **extra,
            }
            return signed(
                json.dumps({"type": "event_callback", "team_id": "T1", "event_id": event_id, "event": event})
            )

        # WHEN a bot's mention and then a person's mention arrive
        assert app.dispatch(mention("Ev1", bot_id="B1")).status == 200
        assert app.dispatch(mention("Ev2")).status == 200
        assert done.wait(10)
    # THEN only the person's reached the lazy listener, with the channel's profile looked up once
    [lookup] = received
    assert lookup.get() == ChannelProfile(scopes=("public", "hr")) and len(built) == 1
