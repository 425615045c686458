"""manifest.yaml against the real app: every event, shortcut and command the manifest subscribes
is handled by the Bolt app behind bot.handler.handler (Bolt answers 404 to a request no listener
matches), and the bot scopes cover every Web API method kotae calls, as recorded by the Slack
stand-in during the bot's flows and as named in bot/."""

from __future__ import annotations

import json
import re
import urllib.parse
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot import handler as bot_handler
from tests.functional import test_bot_escalation as escalation
from tests.functional import test_bot_knowledge_loop as loop
from tests.functional.test_bot import (
    Context,
    _thread_reply,
    api_gateway_event,
    deliver,
    mention,
    slash_command,
    use_profiles,
)
from tests.functional.test_bot_ai_blocks import interaction
from tests.functional.test_bot_home import home_opened

bot = loop.bot  # the real Bolt app against the Slack and Lambda stand-ins
ROOT = Path(__file__).resolve().parents[2]
MANIFEST = yaml.safe_load((ROOT / "manifest.yaml").read_text(encoding="utf-8"))
BOT_SCOPES = set(MANIFEST["oauth_config"]["scopes"]["bot"])

# The bot scopes each Web API method needs, from its page under
# https://docs.slack.dev/reference/methods/ ("Required scopes", bot token). conversations.replies
# needs the history scope of the conversation's type: kotae reads threads in public and private
# channels and in DMs, so it needs all three.
METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    "auth.test": (),
    "chat.postMessage": ("chat:write",),
    "chat.update": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "chat.getPermalink": (),
    "chat.startStream": ("chat:write",),
    "chat.appendStream": ("chat:write",),
    "chat.stopStream": ("chat:write",),
    "conversations.replies": ("channels:history", "groups:history", "im:history"),
    "usergroups.users.list": ("usergroups:read",),
    "views.open": (),
    "views.update": (),
    "views.publish": (),
    "assistant.threads.setStatus": ("assistant:write",),
    "assistant.threads.setSuggestedPrompts": ("assistant:write",),
}
SLACK_FAMILIES = ("auth", "chat", "conversations", "usergroups", "users", "views", "assistant", "reactions")


def event_callback(event: dict[str, Any], event_id: str) -> str:
    return json.dumps({"type": "event_callback", "team_id": "T1", "event_id": event_id, "event": event})


def message(channel_type: str, channel: str) -> dict[str, Any]:
    return {
        "type": "message",
        "channel_type": channel_type,
        "user": "U1",
        "text": "How do I connect to the VPN from home?",
        "ts": "1700000000.000200",
        "channel": channel,
    }


ASSISTANT_THREAD = {"user_id": "U1", "channel_id": "D9", "thread_ts": "1700000001.000100", "context": {}}
ASSISTANT_STARTED = {"type": "assistant_thread_started", "assistant_thread": ASSISTANT_THREAD}
# One delivery of each subscribed event, as Slack sends it.
EVENTS: dict[str, Callable[[], str]] = {
    "app_mention": lambda: mention("How do I connect to the VPN from home?", event_id="EvM1"),
    "assistant_thread_started": lambda: event_callback(ASSISTANT_STARTED, "EvM2"),
    "message.im": lambda: event_callback(message("im", "D1"), "EvM3"),
    "message.channels": lambda: event_callback(message("channel", "C2"), "EvM4"),
    "message.groups": lambda: event_callback(message("group", "G2"), "EvM5"),
    "app_home_opened": lambda: home_opened(event_id="EvM6"),
}


def test_every_subscribed_event_has_an_example_here() -> None:
    assert set(MANIFEST["settings"]["event_subscriptions"]["bot_events"]) == set(EVENTS)


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_every_subscribed_event_is_handled(bot, name) -> None:
    _, lam = bot
    assert deliver(lam, EVENTS[name]())["statusCode"] == 200
    assert lam.errors == []


def test_an_event_kotae_does_not_subscribe_is_not_handled(bot) -> None:
    _, lam = bot
    reaction = {"type": "reaction_added", "user": "U1", "reaction": "eyes", "item": {"type": "message"}}
    assert deliver(lam, event_callback(reaction, "EvM9"))["statusCode"] == 404


def shortcut_payload(callback_id: str) -> dict[str, Any]:
    reply = {"ts": loop.REPLY_TS, "thread_ts": loop.ROOT_TS, "user": "U03", "text": loop.TERRACE_A}
    return {**loop.shortcut(reply), "callback_id": callback_id}


@pytest.mark.parametrize(
    ("callback_id", "status"),
    [
        *(
            pytest.param(s["callback_id"], 200, id=s["callback_id"])
            for s in MANIFEST["features"]["shortcuts"]
        ),
        pytest.param("not_a_kotae_shortcut", 404, id="unknown"),
    ],
)
def test_the_manifests_shortcuts_are_handled_and_no_other(bot, callback_id, status) -> None:
    slack, lam = bot
    response = interaction(shortcut_payload(callback_id))
    lam.wait()
    assert response["statusCode"] == status
    assert len(slack.called("views.open")) == (status == 200)


def command_request(slack, command: str) -> dict[str, Any]:
    """A signed slash-command request for ``command`` (Slack's form, as test_bot sends /kotae)."""
    form = urllib.parse.parse_qs(slash_command(slack, "VPN?", "response/m1")["body"])
    body = urllib.parse.urlencode({**{k: v[0] for k, v in form.items()}, "command": command})
    event = api_gateway_event(body)
    event["headers"]["content-type"] = "application/x-www-form-urlencoded"
    return event


@pytest.mark.parametrize(
    ("command", "status"),
    [
        *(pytest.param(c["command"], 200, id=c["command"]) for c in MANIFEST["features"]["slash_commands"]),
        pytest.param("/not-kotae", 404, id="unknown"),
    ],
)
def test_the_manifests_slash_command_is_handled_and_no_other(bot, command, status) -> None:
    slack, lam = bot
    response = bot_handler.handler(command_request(slack, command), Context())
    lam.wait()
    assert response["statusCode"] == status


def answers_and_follow_ups(slack, lam, monkeypatch, tmp_path) -> None:
    """A mention, a thread follow-up (the thread read), a DM in the assistant panel, /kotae."""
    use_profiles(monkeypatch, tmp_path, {"default": {"scopes": ["public"], "answer_followups": True}})
    deliver(lam, mention("How do I connect to the VPN from home?", event_id="EvS1"))
    slack.replies["1700000000.000100"] = [
        {"ts": "1700000000.000100", "user": "U1", "text": "<@UBOT> How do I connect to the VPN from home?"},
        {"ts": "1700000000.000150", "bot_id": slack.bot_id, "user": "UBOT", "text": "Use GlobalProtect."},
    ]
    deliver(lam, _thread_reply("and what if it keeps failing?", "EvS2", "1700000000.000200"))
    deliver(lam, event_callback(ASSISTANT_STARTED, "EvS3"))
    dm = {**message("im", "D9"), "thread_ts": "1700000001.000100", "ts": "1700000001.000200"}
    deliver(lam, event_callback(dm, "EvS4"))
    bot_handler.handler(slash_command(slack, "VPN?", "response/s1"), Context())
    lam.wait()


def streamed(slack, lam, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("KOTAE_SLACK_STREAMING", "true")
    bot_handler.install_runtime(None)
    deliver(lam, mention("How do I connect to the VPN from home?", event_id="EvS5"))


def knowledge_loop(slack, lam, monkeypatch, tmp_path) -> None:
    """Home opened by a user group's member, Save as FAQ by an editor and refused to another,
    and "Ask a person"."""
    group = "S" + uuid.uuid4().hex[:12].upper()  # the members of a group are cached per process
    monkeypatch.setenv("KOTAE_KNOWLEDGE_EDITORS", group)
    use_profiles(monkeypatch, tmp_path, escalation.PROFILES)
    slack.groups[group] = ["U02"]
    deliver(lam, home_opened(user="U02", event_id="EvS6"))
    view = loop.opened_form(slack, lam, loop.shortcut(loop.thread(slack)))
    loop.submit(lam, view)
    interaction(loop.shortcut(loop.thread(slack), user="U09", trigger="1.4"))
    lam.wait()
    interaction(escalation.ask_a_person(escalation.not_found_answer(slack, lam)))
    lam.wait()


FLOWS = [answers_and_follow_ups, knowledge_loop, streamed]  # streaming last: it posts no chat.update


@pytest.mark.parametrize("flow", FLOWS, ids=[f.__name__ for f in FLOWS])
def test_the_manifests_scopes_cover_every_method_a_flow_calls(bot, monkeypatch, tmp_path, flow) -> None:
    slack, lam = bot
    flow(slack, lam, monkeypatch, tmp_path)
    assert lam.errors == []
    called = {name for name, _ in slack.calls if not name.startswith("response/")}
    assert called, "the flow called no Web API method"
    assert called <= set(METHOD_SCOPES), f"no scope known for {sorted(called - set(METHOD_SCOPES))}"
    needed = {scope for name in called for scope in METHOD_SCOPES[name]}
    assert needed <= BOT_SCOPES, f"manifest.yaml lacks {sorted(needed - BOT_SCOPES)}"


def methods_named_in_bot() -> set[str]:
    """The Web API methods bot/ calls: ``client.chat_postMessage(`` and the streaming responder's
    ``_send("chat_startStream", …)``, as Slack names them."""
    pattern = re.compile(r"""(?:client\.|_send\(\s*")([a-z]+(?:_[A-Za-z]+)+)\b""")
    names = {m for path in (ROOT / "bot").rglob("*.py") for m in pattern.findall(path.read_text("utf-8"))}
    return {name.replace("_", ".") for name in names if name.split("_")[0] in SLACK_FAMILIES}


def test_every_method_bot_names_has_its_scopes_known_and_the_flows_call_them_all(bot, monkeypatch, tmp_path):
    slack, lam = bot
    named = methods_named_in_bot()
    assert {"chat.postMessage", "chat.startStream", "usergroups.users.list"} <= named  # the scan works
    assert named <= set(METHOD_SCOPES), f"no scope known for {sorted(named - set(METHOD_SCOPES))}"
    for flow in FLOWS:
        flow(slack, lam, monkeypatch, tmp_path)
    called = {name for name, _ in slack.calls}
    assert named <= called, f"no flow here calls {sorted(named - called)}"
