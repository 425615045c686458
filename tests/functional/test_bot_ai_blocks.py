"""Slack's AI-app blocks through the real bot: task cards streamed as chat-stream chunks,
feedback_buttons, the 👎 reason modal, and the fallbacks where Slack refuses them. Signed
requests into the Lambda handler, against the Slack and Lambda stand-ins; every Block Kit
payload kotae sends is checked against python-slack-sdk's models."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest
from slack_sdk.models.blocks import Block, UrlSourceElement
from slack_sdk.models.messages.chunk import Chunk
from slack_sdk.models.views import View

from bot import handler as bot_handler
from tests.functional import test_bot
from tests.functional.test_bot import Context, api_gateway_event, deliver, emf, mention

bot = test_bot.bot  # the same fixture: a real Bolt app against the Slack and Lambda stand-ins
VPN = "How do I connect to the VPN from home?"


@pytest.fixture
def streaming(bot, monkeypatch):
    monkeypatch.setenv("KOTAE_SLACK_STREAMING", "true")
    bot_handler.install_runtime(None)
    return bot


def listed(value: Any) -> list[dict[str, Any]]:
    return json.loads(value) if isinstance(value, str) else list(value or [])


def valid_blocks(blocks: Any) -> list[dict[str, Any]]:
    """The blocks, each parsed by slack_sdk's block models and rendered back unchanged."""
    blocks = listed(blocks)
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None and parsed.to_dict() == block, block
    return blocks


def valid_chunks(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chunks, each parsed by slack_sdk's chunk models (and their URL sources by
    UrlSourceElement) and rendered back unchanged."""
    for chunk in chunks:
        parsed = Chunk.parse(chunk)
        assert parsed is not None and parsed.to_dict() == chunk, chunk
        for source in chunk.get("sources", []):
            assert UrlSourceElement(**source).to_dict() == source
    return chunks


def interaction(payload: dict[str, Any]) -> dict[str, Any]:
    """A signed interactivity request (form-encoded ``payload``), answered by the handler."""
    event = api_gateway_event("payload=" + urllib.parse.quote(json.dumps(payload)))
    event["headers"]["content-type"] = "application/x-www-form-urlencoded"
    return bot_handler.handler(event, Context())


def click(
    action_id: str, value: str, *, block_id: str = "feedback:a1", kind: str = "feedback_buttons"
) -> dict:
    return {
        "type": "block_actions",
        "team": {"id": "T1"},
        "user": {"id": "U2"},
        "api_app_id": "A1",
        "token": "t",
        "trigger_id": "1.2",
        "container": {"type": "message", "channel_id": "C1", "message_ts": "1700000000.000200"},
        "channel": {"id": "C1"},
        "message": {"ts": "1700000000.000200"},
        "actions": [
            {"type": kind, "action_id": action_id, "block_id": block_id, "value": value, "action_ts": "1"}
        ],
    }


def view_payload(kind: str, view: dict[str, Any], reason: str | None, comment: str | None) -> dict:
    """A view_submission or view_closed of the modal kotae opened, with these answers in it."""
    values: dict[str, Any] = {"reason": {"reason": {"type": "radio_buttons", "selected_option": None}}}
    if reason:
        values["reason"]["reason"]["selected_option"] = {
            "text": {"type": "plain_text", "text": reason},
            "value": reason,
        }
    values["comment"] = {"comment": {"type": "plain_text_input", "value": comment}}
    return {
        "type": kind,
        "team": {"id": "T1"},
        "user": {"id": "U2"},
        "api_app_id": "A1",
        "token": "t",
        "view": {**view, "id": "V1", "state": {"values": values}},
    }


def feedback_log(tmp_path) -> list[dict[str, Any]]:
    files = sorted((tmp_path / "data" / "logs" / "feedback").glob("dt=*/feedback.jsonl"))
    return [json.loads(line) for path in files for line in path.read_text().splitlines()]


def reasons(printed: str) -> dict[str, float]:
    """The ``Feedback`` metric by its reason dimension, from the EMF lines printed."""
    counted: dict[str, float] = {}
    for line in printed.splitlines():
        doc = json.loads(line) if '"_aws"' in line else {}
        if "Feedback" in doc:
            values = doc["Feedback"] if isinstance(doc["Feedback"], list) else [doc["Feedback"]]
            counted[doc["reason"]] = counted.get(doc["reason"], 0) + sum(values)
    return counted


def opened_modal(slack, lam, action: dict[str, Any]) -> dict[str, Any]:
    assert interaction(action)["statusCode"] == 200
    lam.wait()
    [opened] = slack.called("views.open")
    assert opened["trigger_id"] == "1.2"
    view = opened["view"] if isinstance(opened["view"], dict) else json.loads(opened["view"])
    assert View(**view).to_dict() == view  # slack_sdk's model of a modal takes it as it is
    return view


def test_a_mention_streams_task_cards_then_the_answer_with_feedback_buttons(streaming) -> None:
    slack, lam = streaming
    # WHEN a question is asked in a channel with streaming on (task cards: timeline, the default)
    deliver(lam, mention(VPN, event_id="EvT1"))
    # THEN the stream opens with the search under way, as a task card
    [start] = slack.called("chat.startStream")
    assert start["task_display_mode"] == "timeline"
    assert valid_chunks(start["chunks"]) == [
        {"type": "task_update", "id": "search", "title": "Searching the knowledge", "status": "in_progress"}
    ]
    # AND the text follows the "writing the answer" card; the stop completes both cards, the
    # retrieval card with the cited sources as URL sources
    chunks = valid_chunks(slack.chunks())
    tasks = [(c["id"], c["status"]) for c in chunks if c["type"] == "task_update"]
    assert tasks[:3] == [("search", "in_progress"), ("search", "complete"), ("write", "in_progress")]
    assert tasks[-2:] == [("search", "complete"), ("write", "complete")]
    first_text = next(i for i, c in enumerate(chunks) if c["type"] == "markdown_text")
    assert first_text > 2 and "GlobalProtect" in slack.streamed_text()
    [stop] = slack.called("chat.stopStream")
    retrieval = next(c for c in listed(stop["chunks"]) if c.get("id") == "search")
    assert any("wiki.hoshizora.example" in s["url"] for s in retrieval["sources"])
    assert "cited" in retrieval["output"]
    # AND the footer ends with Slack's feedback_buttons, each naming the answer
    feedback = valid_blocks(stop["blocks"])[-1]
    assert feedback["type"] == "context_actions"
    [buttons] = feedback["elements"]
    answer_id = feedback["block_id"].removeprefix("feedback:")
    assert buttons["type"] == "feedback_buttons" and buttons["action_id"] == "feedback"
    assert (buttons["positive_button"]["value"], buttons["negative_button"]["value"]) == (
        f"up:{answer_id}",
        f"down:{answer_id}",
    )


def test_a_refusal_completes_the_search_card_with_nothing_found(streaming) -> None:
    slack, lam = streaming
    deliver(lam, mention("Who won the bowling tournament in 1987?", event_id="EvT2"))
    [stop] = slack.called("chat.stopStream")
    [search] = [c for c in valid_chunks(listed(stop["chunks"])) if c.get("id") == "search"]
    assert search["status"] == "complete" and search["output"].startswith("Nothing")
    assert "sources" not in search
    # AND the not-found message is shown once, whether the answerer streamed it or not
    assert slack.streamed_text().count("couldn't find") == 1


def test_where_task_cards_are_refused_the_answer_streams_as_text_and_says_so(streaming, caplog) -> None:
    # GIVEN a workspace whose streams take no chunks
    slack, lam = streaming
    slack.refuse_chunks = True
    deliver(lam, mention(VPN, event_id="EvT3"))
    # THEN the stream was opened again without them, and the answer streamed as plain text
    first, second = slack.called("chat.startStream")
    assert "chunks" in first and "chunks" not in second and "task_display_mode" not in second
    assert all(
        "chunks" not in args for args in slack.called("chat.appendStream") + slack.called("chat.stopStream")
    )
    assert "GlobalProtect" in slack.streamed_text() and slack.called("chat.postMessage") == []
    assert [r.message for r in caplog.records].count("Slack refused the task cards: streaming text only") == 1
    assert valid_blocks(slack.called("chat.stopStream")[0]["blocks"])[-1]["type"] == "context_actions"


@pytest.mark.parametrize(
    "refuse_chunks", [pytest.param(False, id="cards"), pytest.param(True, id="no-cards")]
)
def test_where_feedback_buttons_are_refused_the_stream_ends_with_plain_buttons(
    streaming, caplog, refuse_chunks
) -> None:
    # GIVEN a client without feedback_buttons (and perhaps without task cards either)
    slack, lam = streaming
    slack.refuse_blocks = {"context_actions"}
    slack.refuse_chunks = refuse_chunks
    deliver(lam, mention(VPN, event_id="EvT4"))
    # THEN the stop was sent again with today's plain 👍/👎 buttons, and the log says so
    *refused, stop = slack.called("chat.stopStream")
    assert refused and all(valid_blocks(r["blocks"])[-1]["type"] == "context_actions" for r in refused)
    footer = valid_blocks(stop["blocks"])[-1]
    assert footer["type"] == "actions" and [e["action_id"] for e in footer["elements"]] == [
        "feedback_up",
        "feedback_down",
    ]
    assert ("chunks" in stop) is not refuse_chunks
    assert any(
        r.message == "Slack refused the feedback buttons: plain buttons instead" for r in caplog.records
    )


def test_where_feedback_buttons_are_refused_the_update_carries_plain_buttons(bot, caplog) -> None:
    slack, lam = bot  # streaming off: post, then update
    slack.refuse_blocks = {"context_actions"}
    deliver(lam, mention(VPN, event_id="EvT5"))
    refused, update = slack.called("chat.update")
    assert valid_blocks(refused["blocks"])[-1]["type"] == "context_actions"
    assert valid_blocks(update["blocks"])[-1]["type"] == "actions"
    assert any(
        r.message == "Slack refused the feedback buttons: plain buttons instead" for r in caplog.records
    )


def test_a_thumbs_up_is_recorded_at_once(bot, tmp_path, capsys) -> None:
    slack, lam = bot
    capsys.readouterr()
    assert interaction(click("feedback", "up:a1"))["statusCode"] == 200
    lam.wait()
    [record] = feedback_log(tmp_path)
    assert (record["answer_id"], record["feedback"], record["user_id"]) == ("a1", "up", "U2")
    assert (record["reason"], record["comment"]) == (None, None)
    assert slack.called("views.open") == [] and emf(capsys)["FeedbackUp"] == 1


@pytest.mark.parametrize(
    "action",
    [
        pytest.param(click("feedback", "down:a1"), id="feedback-buttons"),
        pytest.param(click("feedback_down", "a1", kind="button"), id="plain-button-of-an-older-answer"),
    ],
)
def test_a_thumbs_down_opens_the_reason_modal_and_its_submission_is_recorded(
    bot, tmp_path, capsys, action
) -> None:
    slack, lam = bot
    capsys.readouterr()
    # WHEN 👎 is clicked
    view = opened_modal(slack, lam, action)
    # THEN nothing is recorded yet, and the modal names the answer and where it is
    assert feedback_log(tmp_path) == []
    assert json.loads(view["private_metadata"]) == {
        "answer_id": "a1",
        "channel_id": "C1",
        "message_ts": "1700000000.000200",
    }
    assert [o["value"] for o in view["blocks"][0]["element"]["options"]] == [
        "wrong",
        "outdated",
        "not_found",
        "other",
    ]
    # WHEN the person says why and submits
    response = interaction(view_payload("view_submission", view, "outdated", "  The VPN moved to ZTNA.  "))
    lam.wait()
    # THEN the modal closes and the 👎 is recorded with the reason and the comment
    assert response["statusCode"] == 200 and not response.get("body")
    [record] = feedback_log(tmp_path)
    assert (record["answer_id"], record["feedback"], record["user_id"]) == ("a1", "down", "U2")
    assert (record["reason"], record["comment"]) == ("outdated", "The VPN moved to ZTNA.")
    printed = capsys.readouterr().out
    assert '"FeedbackDown"' in printed and reasons(printed) == {"outdated": 1}


@pytest.mark.parametrize(
    ("reason", "comment", "errors"),
    [
        pytest.param(
            "other",
            "",
            {"comment": "Please say what was wrong (a few words are enough)."},
            id="other-needs-text",
        ),
        pytest.param(
            "other",
            "   ",
            {"comment": "Please say what was wrong (a few words are enough)."},
            id="other-blank",
        ),
        pytest.param(
            "wrong", "x" * 501, {"comment": "Please keep it under 500 characters."}, id="comment-too-long"
        ),
        pytest.param(None, "hm", {"reason": "Please choose one."}, id="no-reason"),
        pytest.param("bogus", None, {"reason": "Please choose one."}, id="unknown-reason"),
    ],
)
def test_a_bad_submission_is_shown_in_the_modal_and_nothing_is_written(
    bot, tmp_path, reason, comment, errors
) -> None:
    slack, lam = bot
    view = opened_modal(slack, lam, click("feedback", "down:a1"))
    response = interaction(view_payload("view_submission", view, reason, comment))
    lam.wait()
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"response_action": "errors", "errors": errors}
    assert feedback_log(tmp_path) == []


def test_a_closed_modal_records_the_thumbs_down_without_a_reason(bot, tmp_path, capsys) -> None:
    slack, lam = bot
    view = opened_modal(slack, lam, click("feedback", "down:a1"))
    assert view["notify_on_close"] is True
    capsys.readouterr()
    assert interaction(view_payload("view_closed", view, None, None))["statusCode"] == 200
    lam.wait()
    [record] = feedback_log(tmp_path)
    assert (record["answer_id"], record["feedback"], record["reason"]) == ("a1", "down", None)
    assert reasons(capsys.readouterr().out) == {"none": 1}


@pytest.mark.parametrize(
    "metadata",
    [
        pytest.param("", id="empty"),
        pytest.param("not json", id="not-json"),
        pytest.param('["a1"]', id="not-an-object"),
        pytest.param('{"channel_id": "C1"}', id="no-answer-id"),
        pytest.param(json.dumps({"answer_id": "x" * 65}), id="answer-id-too-long"),
    ],
)
@pytest.mark.parametrize("kind", ["view_submission", "view_closed"])
def test_a_modal_without_kotae_metadata_is_closed_and_nothing_is_written(
    bot, tmp_path, caplog, metadata, kind
) -> None:
    _slack, lam = bot
    view = {"type": "modal", "callback_id": "feedback_reason", "private_metadata": metadata}
    response = interaction(view_payload(kind, view, "wrong", "hm"))
    lam.wait()
    assert response["statusCode"] == 200 and not response.get("body") and lam.errors == []
    assert feedback_log(tmp_path) == []
    assert any(r.message == "feedback modal without an answer" for r in caplog.records)


def test_a_modal_that_cannot_be_opened_is_logged(bot, tmp_path, caplog) -> None:
    slack, lam = bot
    slack.refuse.add("views.open")  # e.g. the trigger expired
    assert interaction(click("feedback", "down:a1"))["statusCode"] == 200
    lam.wait()
    assert feedback_log(tmp_path) == [] and lam.errors == []
    assert any(r.message == "could not open the feedback reason modal" for r in caplog.records)
