"""The pure parts of "Ask a person": the button, its value, the post, the metadata read back."""

from __future__ import annotations

import json

import pytest
from slack_sdk.models.blocks import Block

from bot.escalation import (
    EVENT_TYPE,
    MAX_VALUE,
    Origin,
    button_value,
    clicked,
    escalate_block,
    escalation_channel,
    escalation_post,
    failure_notice,
    knowledge_has_it,
    origin_of,
    shorten,
)
from bot.formatting import footer_blocks
from bot.sanitize import ZWSP
from kotae.models import Answer

ORIGIN = Origin("C1", "1700000000.000100", "a1", "Where is <!here> the *terrace*? @channel")


def valid(block: dict) -> dict:
    parsed = Block.parse(block)
    assert parsed is not None and parsed.to_dict() == block
    return block


@pytest.mark.parametrize(
    "question",
    [
        pytest.param("short?", id="short"),
        pytest.param("社内" * 1500, id="long-japanese"),
        pytest.param('"\\' * 1000, id="json-escapes-double-its-length"),
        pytest.param("\n" * 3000, id="control-characters-escape-to-two"),
    ],
)
def test_the_button_value_fits_slacks_limit_and_reads_back(question: str) -> None:
    value = button_value("a" * 32, "x" + question)
    assert len(value) <= MAX_VALUE
    escalation = clicked(value)
    assert escalation is not None and escalation.answer_id == "a" * 32
    assert ("x" + question).strip().startswith(escalation.question.removesuffix("…"))


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(None, id="none"),
        pytest.param("not json", id="not-json"),
        pytest.param('["a", "q"]', id="not-an-object"),
        pytest.param('{"a": "", "q": "x"}', id="no-answer-id"),
        pytest.param('{"a": "a1", "q": "  "}', id="blank-question"),
        pytest.param('{"a": 1, "q": "x"}', id="answer-id-not-text"),
    ],
)
def test_a_value_kotae_did_not_write_is_no_click(value) -> None:
    assert clicked(value) is None


def test_the_block_is_an_actions_block_with_one_button() -> None:
    block = valid(escalate_block("a1", "Where?"))
    assert block["block_id"] == "escalate:a1" and block["elements"][0]["action_id"] == "escalate"


def test_the_post_pings_only_the_group_and_carries_the_metadata() -> None:
    post = escalation_post(ORIGIN, asker="U1", permalink="https://x.slack.com/archives/C1/p1", usergroup="S1")
    assert post["text"].startswith("<!subteam^S1> <@U1> asked")
    for block in post["blocks"]:
        valid(block)
    quoted = post["blocks"][0]["text"]["text"]
    assert "<!here>" not in quoted and f"@{ZWSP}channel" in quoted and "&lt;" in quoted
    assert (
        "<https://x.slack.com/archives/C1/p1|the question's thread>"
        in post["blocks"][1]["elements"][0]["text"]
    )
    assert post["metadata"] == {"event_type": EVENT_TYPE, "event_payload": ORIGIN.payload()}


def test_a_post_without_a_link_or_group_says_so() -> None:
    post = escalation_post(ORIGIN, asker="U1", permalink=None, usergroup=None)
    assert post["text"].startswith("<@U1>") and "cannot link to" in post["blocks"][1]["elements"][0]["text"]


def test_the_metadata_reads_back_into_the_origin() -> None:
    post = escalation_post(ORIGIN, asker="U1", permalink=None, usergroup=None)
    assert origin_of({"metadata": post["metadata"]}) == ORIGIN


@pytest.mark.parametrize(
    "message",
    [
        pytest.param({}, id="no-metadata"),
        pytest.param({"metadata": "kotae_escalation"}, id="metadata-not-an-object"),
        pytest.param(
            {"metadata": {"event_type": "other", "event_payload": ORIGIN.payload()}}, id="other-type"
        ),
        pytest.param(
            {"metadata": {"event_type": EVENT_TYPE, "event_payload": "x"}}, id="payload-not-an-object"
        ),
        pytest.param(
            {"metadata": {"event_type": EVENT_TYPE, "event_payload": {**ORIGIN.payload(), "answer_id": ""}}},
            id="field-missing",
        ),
    ],
)
def test_other_messages_are_no_escalation(message) -> None:
    assert origin_of(message) is None


@pytest.mark.parametrize(
    ("error", "says"),
    [
        ("not_in_channel", "not a member of <#C9>"),
        ("channel_not_found", "does not exist"),
        ("is_archived", "archived"),
        ("fatal_error", "Slack refused"),
    ],
)
def test_failure_notices_say_what_to_do_and_carry_the_reference(error: str, says: str) -> None:
    text = failure_notice(error, "C9", "ref123")
    assert says in text and text.endswith("(ref ref123)")


def test_the_news_quotes_the_question_safely_and_links_the_answer() -> None:
    text = knowledge_has_it("<!channel> where?", "https://x.slack.com/archives/C9/p2")
    assert "<!channel>" not in text and text.endswith("(<https://x.slack.com/archives/C9/p2|the answer>).")
    assert knowledge_has_it("where?", None).endswith("“where?”.")


def test_the_profile_channel_wins_over_the_setting() -> None:
    assert escalation_channel("C1", "C2") == "C1"
    assert escalation_channel(None, "C2") == "C2"
    assert escalation_channel(None, None) is None


def test_shorten_marks_a_cut() -> None:
    assert shorten("abcdef", 6) == "abcdef" and shorten("abcdef", 4) == "abc…"


def answer(**fields) -> Answer:
    return Answer(
        question="Where?",
        text="Not found.",
        prompt_task="answer",
        prompt_version="v1",
        model_id="m",
        **fields,
    )


@pytest.mark.parametrize(
    ("fields", "escalate", "offered"),
    [
        pytest.param({"found": False}, True, True, id="not-found"),
        pytest.param({"found": False}, False, False, id="nowhere-to-go"),
        pytest.param({"found": True}, True, False, id="found"),
        pytest.param({"found": False, "blocked": True}, True, False, id="blocked"),
    ],
)
def test_only_a_not_found_answer_offers_a_person(fields, escalate: bool, offered: bool) -> None:
    blocks = footer_blocks(answer(**fields), "a1", escalate=escalate)
    assert [b.get("block_id") == "escalate:a1" for b in blocks].count(True) == int(offered)
    assert blocks[-1]["block_id"] == "feedback:a1"
    if offered:
        assert json.loads(blocks[-2]["elements"][0]["value"])["q"] == "Where?"
