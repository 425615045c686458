"""Questions as the bot receives them, and the thread history it answers with."""

from __future__ import annotations

from bot.questions import BotIdentity, Question, clean_question, show_status, thread_history
from tests.fakes import FakeSlackClient

REPLY = Question("Ev1", "T1", "C1", "U1", "1.0", "and then?", message_ts="3.0")
KOTAE = BotIdentity(user_id="UBOT", bot_id="B1")


def test_a_mention_event_becomes_a_question_for_its_thread() -> None:
    body = {"event_id": "Ev1", "team_id": "T1"}
    event = {"channel": "C1", "user": "U1", "ts": "2.0", "thread_ts": "1.0", "text": "<@UBOT> VPN?"}
    assert Question.from_event(body, event) == Question("Ev1", "T1", "C1", "U1", "1.0", "VPN?", "2.0")


def test_a_command_becomes_a_question_outside_any_thread() -> None:
    command = {"team_id": "T1", "channel_id": "C1", "user_id": "U1", "text": "VPN?"}
    assert Question.from_command(command) == Question("", "T1", "C1", "U1", "", "VPN?")


def test_the_mention_is_not_part_of_the_question() -> None:
    assert clean_question("<@UBOT|kotae> how?  ") == "how?"


def test_thread_history_is_the_other_messages_as_turns() -> None:
    slack = FakeSlackClient()
    slack.messages = [
        {"ts": "1.0", "user": "U1", "text": "<@UBOT> VPN?"},
        {"ts": "2.0", "bot_id": "B1", "text": "Looking that up…"},
        {"ts": "2.5", "bot_id": "B1", "text": "Use GlobalProtect."},
        {"ts": "3.0", "user": "U1", "text": "and then?"},
    ]
    turns = thread_history(slack, REPLY, KOTAE)
    assert [(t.role, t.text) for t in turns] == [("user", "VPN?"), ("assistant", "Use GlobalProtect.")]


def test_a_question_that_starts_a_thread_has_no_history() -> None:
    slack = FakeSlackClient()
    assert thread_history(slack, Question("Ev1", "T1", "C1", "U1", "1.0", "VPN?", "1.0"), KOTAE) == []
    assert slack.calls == []


def test_without_access_to_the_thread_the_question_is_answered_alone() -> None:
    assert thread_history(FakeSlackClient("conversations_replies"), REPLY, KOTAE) == []


def test_the_thinking_status_is_only_for_dms_and_may_be_refused() -> None:
    channel = FakeSlackClient()
    show_status(channel, REPLY, "en")
    assert channel.calls == []
    refused = FakeSlackClient("assistant_threads_setStatus")
    show_status(refused, Question("Ev1", "T1", "D1", "U1", "1.0", "VPN?"), "ja")  # does not raise
    assert refused.calls == [
        ("assistant_threads_setStatus", {"channel_id": "D1", "thread_ts": "1.0", "status": "調べています…"})
    ]
