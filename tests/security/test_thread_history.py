"""Thread history: kotae's own messages only are its turns, and the newest turns are read (hole 7).

On the old code every bot's message was labelled as kotae's (``bot_id`` of any bot), and only
the first page of conversations.replies was read (limit 20, no cursor), so a long thread lost
its newest turns. The Slack stand-in pages as Slack documents (``limit``, ``has_more``,
``response_metadata.next_cursor``).
"""

from __future__ import annotations

import re

import pytest
from slack_sdk import WebClient

from bot.questions import HISTORY_PAGE_SIZE, MAX_HISTORY_MESSAGES, BotIdentity, Question, thread_history
from tests.fakes import FakeGenerator
from tests.functional.test_bot import _thread_reply, bot, deliver, mention, use_generator, use_profiles  # noqa: F401
from tests.standins.slack import slack_api

THREAD = "1700000000.000100"
KOTAE = BotIdentity(user_id="UBOT", bot_id="BKOTAE")


def long_thread(replies: int) -> list[dict]:
    """A mention, then people, kotae and another bot taking turns."""
    messages = [{"ts": THREAD, "user": "U1", "text": "<@UBOT> How do I connect to the VPN from home?"}]
    for n in range(replies):
        ts = f"1700000001.{n:06d}"
        kind = n % 3
        if kind == 0:
            messages.append({"ts": ts, "user": "U1", "text": f"How do I connect to the VPN from home? ({n})"})
        elif kind == 1:
            messages.append({"ts": ts, "user": "UBOT", "bot_id": "BKOTAE", "text": f"kotae turn {n}"})
        else:
            messages.append({"ts": ts, "user": "UOTHER", "bot_id": "BOTHER", "text": f"other bot turn {n}"})
    return messages


def expected_newest(messages: list[dict]) -> list[tuple[str, str]]:
    turns = [
        ("assistant" if m.get("bot_id") == "BKOTAE" else "user", m["text"])
        for m in messages[1:]
        if m.get("bot_id") != "BOTHER"
    ]
    return turns[-MAX_HISTORY_MESSAGES:]


@pytest.fixture
def slack():
    with slack_api() as api:
        yield api, WebClient(token="xoxb-test", base_url=api.url + "/")


def test_a_long_thread_is_read_to_its_newest_turns(slack) -> None:
    # GIVEN a thread of more than two pages, and a follow-up after it
    api, client = slack
    api.replies[THREAD] = long_thread(2 * HISTORY_PAGE_SIZE + 50)
    question = Question("Ev1", "T1", "C1", "U1", THREAD, "and then?", message_ts="1700000009.000000")
    # WHEN its history is read
    turns = thread_history(client, question, KOTAE)
    # THEN every page was read, following the cursor, and the newest turns are kept in order
    calls = api.called("conversations.replies")
    assert len(calls) == 3 and "cursor" not in calls[0] and all(c["cursor"] for c in calls[1:])
    assert [(t.role, t.text) for t in turns] == expected_newest(api.replies[THREAD])
    # AND another bot's messages are nobody's turns, least of all kotae's
    assert not [t for t in turns if "other bot" in t.text]


def test_messages_after_the_question_are_not_history(slack) -> None:
    api, client = slack
    api.replies[THREAD] = [*long_thread(5), {"ts": "1700000010.000000", "user": "U1", "text": "later"}]
    question = Question("Ev1", "T1", "C1", "U1", THREAD, "and then?", message_ts="1700000009.000000")
    assert "later" not in [t.text for t in thread_history(client, question, KOTAE)]


def test_a_thread_longer_than_the_page_limit_gives_no_stale_history(slack) -> None:
    from bot.questions import MAX_HISTORY_PAGES

    api, client = slack
    api.replies[THREAD] = long_thread(MAX_HISTORY_PAGES * HISTORY_PAGE_SIZE + 10)
    question = Question("Ev1", "T1", "C1", "U1", THREAD, "and then?", message_ts="1700000009.000000")
    assert thread_history(client, question, KOTAE) == []
    assert len(api.called("conversations.replies")) == MAX_HISTORY_PAGES


@pytest.mark.parametrize(
    ("identity", "message"),
    [
        pytest.param(KOTAE, {"user": "UOTHER", "bot_id": "BOTHER"}, id="another-bot"),
        pytest.param(KOTAE, {"subtype": "bot_message", "username": "kotae"}, id="a-webhook-named-kotae"),
        pytest.param(BotIdentity(), {"user": "UBOT", "bot_id": "BKOTAE"}, id="identity-unknown"),
    ],
)
def test_only_kotaes_own_messages_are_its_turns(identity: BotIdentity, message: dict) -> None:
    assert identity.wrote(message) is False


def prompt_turns(generator: FakeGenerator) -> list[tuple[str, str]]:
    """The conversation the model was shown in its last prompt, as (role, text)."""
    _system, messages = generator.history[-1]
    return re.findall(r"<(user|assistant)>(.*?)</\1>", messages[0]["text"])


def test_through_bolt_a_follow_up_in_a_long_thread_sees_its_newest_turns(bot, monkeypatch, tmp_path) -> None:  # noqa: F811
    # GIVEN kotae answered a mention, and the thread then grew past a page, with another bot in it
    slack, lam = bot
    use_profiles(monkeypatch, tmp_path, {"default": {"scopes": ["public"], "answer_followups": True}})
    generator = FakeGenerator()
    use_generator(generator)
    deliver(lam, mention("How do I connect to the VPN from home?", event_id="EvH1"))
    slack.replies[THREAD] = long_thread(2 * HISTORY_PAGE_SIZE + 50)
    # WHEN someone follows up in the thread
    deliver(lam, _thread_reply("and what if the VPN keeps failing?", "EvH2", "1700000009.000000"))
    # THEN the model saw the thread's newest turns, kotae's as its own and no other bot's
    assert len(generator.history) == 2
    seen = prompt_turns(generator)
    newest = expected_newest(slack.replies[THREAD])
    assert seen and seen == newest[-len(seen) :]
    assert ("assistant", newest[-1][1]) in seen or ("user", newest[-1][1]) in seen
    assert not [text for _role, text in seen if "other bot" in text]
