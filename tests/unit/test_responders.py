"""The three responders against an in-memory Slack client: what each sends, and when."""

from __future__ import annotations

from typing import Any

import pytest

from bot.responders import STREAM_BUFFER, EphemeralResponder, PostThenUpdate, StreamResponder
from kotae.models import Answer
from tests.fakes import FakeSlackClient


def answer(text: str = "Use GlobalProtect.", found: bool = True) -> Answer:
    return Answer(
        question="VPN?", text=text, found=found, prompt_task="answer", prompt_version="v1", model_id="m"
    )


def post_then_update(slack: FakeSlackClient) -> PostThenUpdate:
    return PostThenUpdate(slack, "C1", "1.0", "Looking that up…")


def stream(slack: FakeSlackClient) -> StreamResponder:
    return StreamResponder(
        slack,
        "C1",
        "1.0",
        team_id="T1",
        user_id="U1",
        fallback=post_then_update(slack),
        task_display_mode="off",
    )


def test_post_then_update_replaces_the_placeholder_with_the_answer() -> None:
    slack = FakeSlackClient()
    responder = post_then_update(slack).start()
    responder.append("ignored: the update carries the whole answer")
    responder.finish(answer(), "a1")
    (_, posted), (_, updated) = slack.calls
    assert (posted["thread_ts"], posted["text"]) == ("1.0", "Looking that up…")
    assert updated["ts"] == "ts-1" and updated["text"] == "Use GlobalProtect."
    assert updated["blocks"][-1]["block_id"] == "feedback:a1"


def test_post_then_update_replaces_the_placeholder_with_the_failure() -> None:
    slack = FakeSlackClient()
    post_then_update(slack).start().fail("Sorry (ref abc)")
    assert slack.calls[-1] == ("chat_update", {"channel": "C1", "ts": "ts-1", "text": "Sorry (ref abc)"})


def test_a_stream_sends_text_in_buffered_pieces_and_ends_with_the_footer() -> None:
    # GIVEN a stream that Slack allows
    slack = FakeSlackClient()
    responder = stream(slack).start()
    # WHEN more than one buffer of text arrives, then the answer
    responder.append("x" * (STREAM_BUFFER - 1))
    assert slack.methods() == ["chat_startStream"]  # below the buffer: nothing sent yet
    responder.append("yz")
    responder.append("tail")
    responder.finish(answer(), "a1")
    # THEN one append carried the first buffer (less the last character, held back until the
    # next one shows it cannot start a ping or a link) and the stop carries the rest and the footer
    assert slack.methods() == ["chat_startStream", "chat_appendStream", "chat_stopStream"]
    start, append, stop = (arguments for _, arguments in slack.calls)
    assert (start["recipient_team_id"], start["recipient_user_id"]) == ("T1", "U1")
    assert append["markdown_text"] == "x" * (STREAM_BUFFER - 1) + "y"
    assert stop["ts"] == "ts-1" and stop["markdown_text"] == "ztail"
    assert stop["blocks"][-1]["block_id"] == "feedback:a1"


def test_a_streamed_refusal_ends_with_the_not_found_message() -> None:
    slack = FakeSlackClient()
    responder = stream(slack).start()
    responder.append("held back")
    responder.finish(answer("I couldn't find that.", found=False), "a1")
    assert slack.calls[-1][1]["markdown_text"] == "I couldn't find that."


def test_a_stream_that_fails_ends_with_the_failure() -> None:
    slack = FakeSlackClient()
    stream(slack).start().fail("Sorry (ref abc)")
    assert slack.calls[-1] == (
        "chat_stopStream",
        {"channel": "C1", "ts": "ts-1", "markdown_text": "\n\nSorry (ref abc)"},
    )


def test_where_slack_refuses_a_stream_the_fallback_carries_the_reply() -> None:
    # GIVEN a workspace where chat.startStream is not allowed
    slack = FakeSlackClient("chat_startStream")
    # WHEN the stream is started and answered
    responder = stream(slack).start()
    responder.append("some text")
    responder.finish(answer(), "a1")
    # THEN the placeholder was posted and updated instead
    assert isinstance(responder, PostThenUpdate)
    assert slack.methods() == ["chat_startStream", "chat_postMessage", "chat_update"]


@pytest.mark.parametrize(
    ("act", "expected"),
    [
        pytest.param(lambda r: r.finish(answer(), "a1"), "Use GlobalProtect.", id="answer"),
        pytest.param(lambda r: r.fail("Sorry (ref abc)"), "Sorry (ref abc)", id="failure"),
    ],
)
def test_an_ephemeral_reply_replaces_the_acknowledgement(act, expected) -> None:
    sent: list[dict[str, Any]] = []
    responder = EphemeralResponder(lambda **message: sent.append(message)).start()
    responder.append("not streamed")
    act(responder)
    [message] = sent
    assert message["response_type"] == "ephemeral" and message["replace_original"] is True
    assert message["text"] == expected
