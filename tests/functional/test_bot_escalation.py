""" "Not found" handed to people, through the real bot: the "Ask a person" button, the post in the
escalation channel (metadata, link, defused text, the user group pinged), "Save as FAQ" on the
answer given there, and the original thread told. Signed requests, the Slack and Lambda
stand-ins, moto DynamoDB and the OpenSearch stand-in (tests/functional/test_bot_knowledge_loop.py)."""

from __future__ import annotations

import json
import logging
import sqlite3
from typing import Any

import pytest

from bot import handler as bot_handler
from tests.functional import test_bot_ai_blocks
from tests.functional import test_bot_knowledge_loop as loop
from tests.functional.test_bot import deliver, mention, use_profiles, use_runtime
from tests.functional.test_bot_ai_blocks import interaction, valid_blocks

bot, editors, in_aws = loop.bot, loop.editors, loop.in_aws  # the fixtures, shared
streaming = test_bot_ai_blocks.streaming
ROOT_TS, ANSWER_TS = "1700000000.000100", "1700000000.000200"
ESCALATION_TS, HELPER_TS = "1700000500.000100", "1700000600.000100"
QUESTION = "Who won the bowling tournament in 1987? <!channel> tell @here, see https://evil.example"
PROFILES = {
    "channels": {
        "C1": {"escalation_channel": "CHELP", "escalation_usergroup": "SHELPERS"},
        "CHELP": {"editors": ["U07"]},
    }
}


def not_found_answer(slack, lam, event_id: str = "EvE1") -> dict[str, Any]:
    """Ask something kotae has no answer to; the answer's "Ask a person" block, if it has one."""
    deliver(lam, mention(QUESTION, event_id=event_id))
    blocks = valid_blocks(slack.called("chat.update")[-1]["blocks"])
    return next((b for b in blocks if b.get("block_id", "").startswith("escalate:")), {})


def answer_message(slack) -> dict[str, Any]:
    """The answer as a click carries it: its ts, its thread, and the blocks kotae last gave it."""
    [update] = [u for u in slack.called("chat.update") if "blocks" in u][-1:]
    return {
        "ts": ANSWER_TS,
        "thread_ts": ROOT_TS,
        "text": update["text"],
        "blocks": valid_blocks(update["blocks"]),
    }


def ask_a_person(block: dict[str, Any], *, user: str = "U1", message: dict | None = None) -> dict[str, Any]:
    [button] = block["elements"]
    action = {
        "type": "button",
        "action_id": button["action_id"],
        "block_id": block["block_id"],
        "value": button["value"],
        "action_ts": "1",
    }
    return loop.payload(
        "block_actions",
        user,
        trigger_id="1.5",
        container={"type": "message", "channel_id": "C1", "message_ts": ANSWER_TS, "thread_ts": ROOT_TS},
        channel={"id": "C1"},
        message=message or {"ts": ANSWER_TS, "thread_ts": ROOT_TS},
        actions=[action],
    )


def metadata_of(message: dict[str, Any]) -> dict[str, Any]:
    metadata = message["metadata"]
    return metadata if isinstance(metadata, dict) else json.loads(metadata)


@pytest.fixture
def not_found(bot, monkeypatch, tmp_path):
    """The bot with PROFILES, after a not-found answer: (slack, lam, its "Ask a person" block)."""
    slack, lam = bot
    use_profiles(monkeypatch, tmp_path, PROFILES)
    return slack, lam, not_found_answer(slack, lam)


def test_not_found_goes_to_people_and_their_answer_saved_tells_the_original_thread(
    in_aws, monkeypatch, tmp_path
) -> None:
    slack, lam, table = in_aws
    use_profiles(monkeypatch, tmp_path, PROFILES)
    # GIVEN a question kotae finds nothing for, in a channel whose profile names where such go
    block = not_found_answer(slack, lam)
    answer_id = block["block_id"].removeprefix("escalate:")
    assert block["elements"][0]["text"]["text"] == "Ask a person"
    # WHEN the asker clicks "Ask a person"
    assert interaction(ask_a_person(block))["statusCode"] == 200
    lam.wait()
    # THEN the question is posted in the escalation channel, the user group pinged, a link back,
    # and nothing in the question pings anyone or links anywhere
    [post] = loop.posted(slack, "CHELP")
    assert post["text"].startswith("<!subteam^SHELPERS> <@U1> asked something kotae could not find")
    shown = json.dumps(valid_blocks(post["blocks"]), ensure_ascii=False)
    for live in ("<!channel>", "@here", "https://evil.example"):
        assert live not in post["text"] and live not in shown
    assert "https://hoshizora.slack.com/archives/C1/p1700000000000200" in shown
    # AND the post carries the question and its thread as message metadata
    assert metadata_of(post) == {
        "event_type": "kotae_escalation",
        "event_payload": {
            "channel": "C1",
            "thread_ts": ROOT_TS,
            "answer_id": answer_id,
            "question": QUESTION,
        },
    }
    # AND the asker's thread is told where the question went
    told = loop.posted(slack, "C1")[-1]
    assert told["thread_ts"] == ROOT_TS and told["text"].startswith("I've asked the people in <#CHELP>")
    # WHEN someone answers in the escalation thread and an editor saves that answer
    escalation = {
        "ts": ESCALATION_TS,
        "bot_id": "BKOTAE",
        "text": post["text"],
        "metadata": metadata_of(post),
    }
    reply = loop.thread(slack, root=escalation, reply_text="Team Kestrel won it.", reply_ts=HELPER_TS)
    view = loop.opened_form(slack, lam, loop.shortcut(reply, user="U07", channel="CHELP"))
    # THEN the question is the asker's, from the metadata, not the post's text
    assert loop.initial(view, "question") == QUESTION
    loop.submit(lam, view, user="U07")
    # AND the item is saved for the not-found answer
    item = loop.table_items(table)[f"faq-slack-CHELP-{HELPER_TS.replace('.', '')}"]
    assert (item["saved_for_answer_id"], item["created_by"], item["answer"]) == (
        answer_id,
        "U07",
        "Team Kestrel won it.",
    )
    # AND the original thread hears that the knowledge now has it, with a link to the answer
    news = [m for m in loop.posted(slack, "C1") if m.get("thread_ts") == ROOT_TS][-1]
    assert news["text"].startswith("Good news: the knowledge now has an answer to")
    assert "https://hoshizora.slack.com/archives/CHELP/p1700000600000100" in news["text"]
    assert "<!channel>" not in news["text"]
    [confirmation] = [m for m in loop.posted(slack, "CHELP") if m.get("thread_ts") == ESCALATION_TS]
    assert confirmation["text"].startswith("<@U07> saved this as an FAQ")


def test_a_thread_started_by_another_app_is_no_escalation(editors, monkeypatch, tmp_path) -> None:
    # GIVEN a thread whose first message carries kotae's event type but was posted by another bot
    slack, lam = editors
    forged = {"event_type": "kotae_escalation", "event_payload": {"channel": "C1", "thread_ts": ROOT_TS}}
    root = {
        "ts": ESCALATION_TS,
        "bot_id": "BOTHER",
        "text": "What is the Wi-Fi password?",
        "metadata": forged,
    }
    reply = loop.thread(slack, root=root, reply_text="It is on the card at reception.", reply_ts=HELPER_TS)
    view = loop.opened_form(slack, lam, loop.shortcut(reply))
    assert loop.initial(view, "question") == "What is the Wi-Fi password?"
    assert "origin" not in json.loads(view["private_metadata"])


@pytest.mark.parametrize(
    ("error", "says"),
    [
        pytest.param("not_in_channel", "kotae is not a member of <#CHELP>", id="not-in-channel"),
        pytest.param("channel_not_found", "does not exist or is archived", id="channel-gone"),
        pytest.param("ratelimited", "Slack refused the post", id="other"),
    ],
)
def test_a_post_slack_refuses_is_told_to_the_clicker_with_a_reference(not_found, caplog, error, says) -> None:
    slack, lam, block = not_found
    slack.errors["chat.postMessage"] = error
    with caplog.at_level(logging.WARNING):
        interaction(ask_a_person(block))
        lam.wait()
    [ephemeral] = slack.called("chat.postEphemeral")
    assert (ephemeral["channel"], ephemeral["user"], ephemeral["thread_ts"]) == ("C1", "U1", ROOT_TS)
    assert says in ephemeral["text"]
    [logged] = [r for r in caplog.records if r.message == "could not post the question for people"]
    assert f"(ref {logged.reference})" in ephemeral["text"] and logged.error == error


def test_a_click_after_the_channel_was_unset_is_told_so(bot, monkeypatch, tmp_path) -> None:
    slack, lam = bot
    use_profiles(monkeypatch, tmp_path, PROFILES)
    block = not_found_answer(slack, lam)
    use_profiles(monkeypatch, tmp_path, {})
    interaction(ask_a_person(block))
    lam.wait()
    [ephemeral] = slack.called("chat.postEphemeral")
    assert "no channel is set up" in ephemeral["text"] and loop.posted(slack, "CHELP") == []


def test_a_click_kotae_did_not_write_is_ignored(bot, caplog) -> None:
    slack, lam = bot
    block = {"block_id": "escalate:x", "elements": [{"action_id": "escalate", "value": "not json"}]}
    interaction(ask_a_person(block))
    lam.wait()
    assert slack.called("chat.postMessage") == [] and slack.called("chat.postEphemeral") == []
    assert any(r.message == "an Ask a person click kotae did not write" for r in caplog.records)


@pytest.mark.parametrize(
    ("setting", "question", "offered"),
    [
        pytest.param(None, QUESTION, False, id="no-escalation-channel"),
        pytest.param("CASK", QUESTION, True, id="the-setting-names-one"),
        pytest.param(
            "CASK", "How do I connect to the VPN from home?", False, id="found-answers-need-no-people"
        ),
    ],
)
def test_only_not_found_answers_with_somewhere_to_go_offer_a_person(
    bot, monkeypatch, setting, question, offered
):
    slack, lam = bot
    if setting:
        monkeypatch.setenv("KOTAE_ESCALATION_CHANNEL", setting)
        bot_handler.install_runtime(None)
    deliver(lam, mention(question, event_id="EvE9"))
    blocks = valid_blocks(slack.called("chat.update")[-1]["blocks"])
    assert any(b["block_id"].startswith("escalate:") for b in blocks if "block_id" in b) is offered


def test_a_streamed_not_found_answer_offers_a_person_when_the_stream_stops(streaming, monkeypatch, tmp_path):
    slack, lam = streaming
    use_profiles(monkeypatch, tmp_path, PROFILES)
    deliver(lam, mention(QUESTION, event_id="EvE8"))
    [stop] = slack.called("chat.stopStream")
    blocks = valid_blocks(stop["blocks"])
    assert [b["block_id"].split(":")[0] for b in blocks if "block_id" in b] == ["escalate", "feedback"]


def asked_in(slack, channel: str = "CHELP") -> list[dict[str, Any]]:
    """The updates that replaced the answer's "Ask a person" button, their blocks checked."""
    updates = [u for u in slack.called("chat.update") if (u["channel"], u["ts"]) == ("C1", ANSWER_TS)]
    return [u for u in updates if f"Asked in <#{channel}>" in json.dumps(valid_blocks(u["blocks"]))]


def test_a_second_click_posts_nothing_and_the_button_says_where_the_question_went(not_found) -> None:
    slack, lam, block = not_found
    message = answer_message(slack)
    # WHEN the asker clicks "Ask a person"
    interaction(ask_a_person(block, message=message))
    lam.wait()
    # THEN the answer keeps its text and blocks, the button replaced by where the question went
    [update] = asked_in(slack)
    blocks = valid_blocks(update["blocks"])
    assert update["text"] == message["text"] and len(blocks) == len(message["blocks"])
    swapped = [b for b in blocks if b.get("block_id") == block["block_id"]]
    assert swapped == [
        {
            "type": "context",
            "block_id": block["block_id"],
            "elements": [{"type": "mrkdwn", "text": "Asked in <#CHELP>"}],
        }
    ]
    assert [b for b in blocks if b not in swapped] == [b for b in message["blocks"] if b != block]
    # WHEN the button is clicked again, from a client that still shows it
    interaction(ask_a_person(block, message=message))
    lam.wait()
    # THEN nothing more is posted in the escalation channel, and the clicker is told privately
    assert len(loop.posted(slack, "CHELP")) == 1
    [ephemeral] = slack.called("chat.postEphemeral")
    assert ephemeral["user"] == "U1" and "already with the people in <#CHELP>" in ephemeral["text"]
    assert len([m for m in loop.posted(slack, "C1") if m["text"].startswith("I've asked")]) == 1


@pytest.mark.parametrize(
    ("refuse", "warning", "attempts"),
    [
        pytest.param("chat.update", "could not replace the Ask a person button", 1, id="update-refused"),
        pytest.param(None, "the clicked answer carries no Ask a person block to replace", 0, id="no-blocks"),
    ],
)
def test_where_the_button_cannot_be_replaced_a_second_click_still_posts_nothing(
    not_found, caplog, refuse, warning, attempts
) -> None:
    slack, lam, block = not_found
    message = answer_message(slack) if refuse else None  # a click without the message's blocks
    if refuse:
        slack.errors[refuse] = "message_not_found"
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            interaction(ask_a_person(block, message=message))
            lam.wait()
    # THEN the question is posted once, whatever became of the button, and why is logged
    assert len(loop.posted(slack, "CHELP")) == 1 and len(asked_in(slack)) == attempts
    assert any(r.message == warning for r in caplog.records)


class BrokenMemory:
    """Thread memory whose store fails at ``fails`` ("known" or "remember")."""

    def __init__(self, fails: str) -> None:
        self.fails, self.kept = fails, set()

    def known(self, key: str) -> bool:
        if self.fails == "known":
            raise sqlite3.OperationalError("database is locked")
        return key in self.kept

    def remember(self, key: str, seconds: int) -> None:
        if self.fails == "remember":
            raise sqlite3.OperationalError("database is locked")
        self.kept.add(key)


@pytest.mark.parametrize(
    ("fails", "warning"),
    [
        pytest.param("known", "cannot tell whether the question was asked before", id="cannot-read"),
        pytest.param("remember", "cannot remember that the question was asked", id="cannot-write"),
    ],
)
def test_a_failing_memory_never_loses_the_question(not_found, caplog, fails, warning) -> None:
    slack, lam, block = not_found
    message = answer_message(slack)
    use_runtime(threads=BrokenMemory(fails))  # the runtime the click finds
    with caplog.at_level(logging.WARNING):
        interaction(ask_a_person(block, message=message))
        lam.wait()
    # THEN the question is posted and the button replaced all the same; the failure is logged
    assert len(loop.posted(slack, "CHELP")) == 1 and len(asked_in(slack)) == 1
    assert any(r.message == warning for r in caplog.records)
