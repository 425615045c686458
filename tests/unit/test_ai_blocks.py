"""Task cards, feedback buttons and the reason modal as pure functions, and the responders'
fallbacks against the Slack stand-in, every payload checked with python-slack-sdk's models."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from slack_sdk.models.messages.chunk import Chunk
from slack_sdk.models.views import View

from bot import steps
from bot.feedback_modal import FeedbackTarget, reason_modal, submitted
from bot.formatting import answer_blocks
from bot.listeners.feedback import clicked
from bot.responders import EphemeralResponder, PostThenUpdate, StreamResponder
from kotae.errors import ConfigError
from kotae.models import Answer, Citation
from kotae.settings import load_settings
from tests.standins.slack import slack_api


def answer(found: bool = True, citations: list[Citation] | None = None, **extra: Any) -> Answer:
    return Answer(
        question="VPN?",
        text="Use GlobalProtect.",
        found=found,
        citations=citations or [],
        prompt_task="answer",
        prompt_version="v1",
        model_id="m",
        **extra,
    )


def cite(url: str | None, title: str = "VPN guide") -> Citation:
    return Citation(id="1", key="faq-1", title=title, url=url, score=1.0)


@pytest.fixture
def slack():
    with slack_api() as api:
        yield api, WebClient(token="xoxb-test", base_url=api.url + "/")


def stream(client: WebClient, mode: steps.TaskDisplayMode = "timeline") -> StreamResponder:
    fallback = PostThenUpdate(client, "C1", "1.0", "Looking that up…")
    return StreamResponder(
        client, "C1", "1.0", team_id="T1", user_id="U1", fallback=fallback, task_display_mode=mode
    )


@pytest.mark.parametrize(
    "plain", [pytest.param(False, id="feedback-buttons"), pytest.param(True, id="plain")]
)
def test_answer_blocks_are_valid_block_kit(plain) -> None:
    blocks = answer_blocks(answer(citations=[cite("https://wiki.example/vpn")]), "a1", plain_feedback=plain)
    for block in blocks:
        assert Block.parse(block).to_dict() == block
    assert blocks[-1]["type"] == ("actions" if plain else "context_actions")


def test_the_reason_modal_is_a_valid_view_carrying_its_answer() -> None:
    view = reason_modal(FeedbackTarget("a1", "C1"))
    assert View(**view).to_dict() == view
    assert view["private_metadata"] == '{"answer_id": "a1", "channel_id": "C1"}'


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        pytest.param({"action_id": "feedback", "value": "up:a1"}, ("up", "a1"), id="positive"),
        pytest.param({"action_id": "feedback", "value": "down:a1"}, ("down", "a1"), id="negative"),
        pytest.param(
            {"action_id": "feedback", "value": "down", "block_id": "feedback:a2"},
            ("down", "a2"),
            id="id-from-block",
        ),
        pytest.param({"action_id": "feedback_up", "value": "a3"}, ("up", "a3"), id="plain-up"),
        pytest.param(
            {"action_id": "feedback_down", "value": "a3" * 40}, ("down", "a3" * 32), id="plain-down-cut"
        ),
    ],
)
def test_a_click_names_its_choice_and_answer(action, expected) -> None:
    assert clicked(action) == expected


def test_a_submission_keeps_the_comment_stripped_and_optional() -> None:
    view = reason_modal(FeedbackTarget("a1"))
    view["state"] = {"values": {"reason": {"reason": {"selected_option": {"value": "wrong"}}}}}
    result = submitted(view)
    assert not isinstance(result, dict)
    assert (result.target.answer_id, result.reason, result.comment) == ("a1", "wrong", None)


@pytest.mark.parametrize(
    ("mode", "first"),
    [pytest.param("timeline", "task_update", id="timeline"), pytest.param("plan", "plan_update", id="plan")],
)
def test_the_stream_opens_with_the_search_under_way(mode, first) -> None:
    chunks = steps.started(mode)
    assert chunks[0]["type"] == first and chunks[-1]["status"] == "in_progress"
    assert [Chunk.parse(c).to_dict() for c in chunks] == chunks


@pytest.mark.parametrize(
    ("done", "title", "output"),
    [
        pytest.param(
            answer(citations=[cite("https://wiki.example/vpn")]), steps.SEARCHING, "1 source cited", id="one"
        ),
        pytest.param(
            answer(citations=[cite(None), cite("ftp://x")]), steps.SEARCHING, "2 sources cited", id="no-urls"
        ),
        pytest.param(answer(), steps.SEARCHING, "Answered", id="uncited"),
        pytest.param(
            answer(found=False), steps.SEARCHING, "Nothing in the knowledge answers this", id="not-found"
        ),
    ],
)
def test_the_retrieval_card_says_what_it_found(done, title, output) -> None:
    [search, write] = steps.finished(done, wrote=True)
    assert (search["title"], search["status"], search["output"]) == (title, "complete", output)
    assert search.get("sources", []) == steps.url_sources(done)
    assert all(s["url"].startswith("https://") for s in search.get("sources", []))
    assert write == steps.task(steps.WRITE, steps.WRITING, "complete")


def test_a_record_query_is_shown_as_querying_records() -> None:
    from kotae.records.query import RecordResult

    records = RecordResult.model_construct()
    [search] = steps.finished(answer(records=records), wrote=False)
    assert search["title"] == steps.QUERYING


def test_source_titles_on_cards_are_defused() -> None:
    [source] = steps.url_sources(
        answer(citations=[cite("https://wiki.example/a", title="<!channel> hi @here")])
    )
    assert "<!channel>" not in source["text"] and "@here" not in source["text"]


def test_a_failure_marks_the_card_under_way_as_an_error(slack) -> None:
    api, client = slack
    responder = stream(client).start()
    responder.append("x" * 200)
    responder.fail("Sorry (ref abc)")
    stop = api.called("chat.stopStream")[0]
    assert [c["status"] for c in stop["chunks"] if c["type"] == "task_update"] == ["error"]
    assert stop["chunks"][0]["id"] == "write" and "Sorry (ref abc)" in api.streamed_text()


def test_a_failure_before_any_text_marks_the_search_as_an_error(slack) -> None:
    api, client = slack
    stream(client, "plan").start().fail("Sorry")
    [start] = api.called("chat.startStream")
    assert start["task_display_mode"] == "plan" and start["chunks"][0] == {
        "type": "plan_update",
        "title": steps.PLAN_TITLE,
    }
    assert api.called("chat.stopStream")[0]["chunks"][0] == steps.task(steps.SEARCH, steps.SEARCHING, "error")


def test_with_task_cards_off_nothing_but_text_is_sent(slack) -> None:
    api, client = slack
    responder = stream(client, "off").start()
    responder.append("x" * 200)
    responder.finish(answer(), "a1")
    assert api.chunks() == [] and all("task_display_mode" not in args for _, args in api.calls)


def test_a_stop_slack_refuses_for_another_reason_is_raised(slack) -> None:
    api, client = slack
    responder = stream(client).start()
    api.refuse.add("chat.stopStream")
    with pytest.raises(SlackApiError):
        responder.finish(answer(), "a1")
    assert len(api.called("chat.stopStream")) == 2  # with the cards, then without


def test_an_update_slack_refuses_for_another_reason_is_raised(slack) -> None:
    api, client = slack
    responder = PostThenUpdate(client, "C1", "1.0", "Looking that up…").start()
    api.refuse.add("chat.update")
    with pytest.raises(SlackApiError):
        responder.finish(answer(), "a1")
    assert len(api.called("chat.update")) == 1


class Sent:
    def __init__(self, status_code: int) -> None:
        self.status_code = status_code


@pytest.mark.parametrize(
    ("statuses", "footers"),
    [
        pytest.param([200], ["context_actions"], id="taken"),
        pytest.param([400, 200], ["context_actions", "actions"], id="refused"),
    ],
)
def test_an_ephemeral_answer_falls_back_to_plain_buttons(statuses, footers) -> None:
    sent: list[dict[str, Any]] = []

    def respond(**message: Any) -> Sent:
        sent.append(message)
        return Sent(statuses[len(sent) - 1])

    EphemeralResponder(respond).finish(answer(), "a1")
    assert [m["blocks"][-1]["type"] for m in sent] == footers


@pytest.mark.parametrize(
    ("method", "args", "error"),
    [
        pytest.param(
            "chat.postMessage",
            {"chunks": [{"type": "markdown_text", "text": "x"}]},
            "invalid_chunks",
            id="not-a-stream",
        ),
        pytest.param(
            "chat.appendStream",
            {"chunks": [{"type": "card", "text": "x"}]},
            "invalid_chunks",
            id="unknown-chunk",
        ),
        pytest.param(
            "chat.update", {"blocks": '[{"type": "context_actions"}]'}, "invalid_blocks", id="refused-block"
        ),
    ],
)
def test_the_stand_in_refuses_what_slack_would(slack, method, args, error) -> None:
    api, client = slack
    api.refuse_blocks = {"context_actions"}
    with pytest.raises(SlackApiError) as raised:
        client.api_call(method, json={"channel": "C1", "ts": "1.0", **args})
    assert raised.value.response["error"] == error


@pytest.mark.parametrize("mode", ["timeline", "plan", "off"])
def test_the_task_display_mode_setting(monkeypatch, mode) -> None:
    monkeypatch.setenv("KOTAE_SLACK_TASK_DISPLAY_MODE", mode)
    assert load_settings().slack_task_display_mode == mode


def test_a_bad_task_display_mode_names_the_variable(monkeypatch) -> None:
    monkeypatch.setenv("KOTAE_SLACK_TASK_DISPLAY_MODE", "cards")
    with pytest.raises(ConfigError, match="KOTAE_SLACK_TASK_DISPLAY_MODE"):
        load_settings()


@pytest.mark.parametrize(
    "service", [pytest.param("kotae-bot", id="service"), pytest.param(None, id="no-service")]
)
def test_the_feedback_metric_carries_the_reason(monkeypatch, capsys, service) -> None:
    import json

    from kotae.ops import metrics

    if service:
        monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", service)
    else:
        monkeypatch.delenv("POWERTOOLS_SERVICE_NAME", raising=False)
    capsys.readouterr()
    metrics.feedback_reason("wrong")
    metrics.feedback_reason(None)
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(d["reason"], d["Feedback"], d.get("service")) for d in docs] == [
        ("wrong", [1.0], service),
        ("none", [1.0], service),
    ]
    assert all("reason" in d["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0] for d in docs)


def test_no_feedback_metric_when_metrics_are_off(monkeypatch, capsys) -> None:
    from kotae.ops import metrics

    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    capsys.readouterr()
    metrics.feedback_reason("wrong")
    assert capsys.readouterr().out == ""
