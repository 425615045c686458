"""The bot Lambda through API Gateway events signed for real, against local Slack and Lambda stand-ins."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import pytest
from slack_sdk.signature import SignatureVerifier

import kotae.aws
from bot import handler as bot_handler
from tests.conftest import SAMPLES
from tests.standins.slack import lambda_api, slack_api

SECRET = "test-signing-secret"


@dataclass
class Context:
    function_name: str = "kotae-bot"
    invoked_function_arn: str = "arn:aws:lambda:ap-northeast-1:123456789012:function:kotae-bot"
    aws_request_id: str = "r"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def api_gateway_event(
    body: str, *, secret: str = SECRET, timestamp: int | None = None, retry: int | None = None
) -> dict:
    ts = str(timestamp if timestamp is not None else int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    headers = {
        "content-type": "application/json",
        "x-slack-request-timestamp": ts,
        "x-slack-signature": signature,
    }
    if retry is not None:
        headers["x-slack-retry-num"] = str(retry)
        headers["x-slack-retry-reason"] = "http_timeout"
    return {
        "requestContext": {"http": {"method": "POST"}},
        "headers": headers,
        "body": body,
        "isBase64Encoded": False,
    }


def mention(text: str, event_id: str = "Ev1", **extra) -> str:
    event = {
        "type": "app_mention",
        "user": "U1",
        "text": f"<@UBOT> {text}",
        "ts": "1700000000.000100",
        "channel": "C1",
        **extra,
    }
    return json.dumps({"type": "event_callback", "team_id": "T1", "event_id": event_id, "event": event})


@pytest.fixture
def bot(monkeypatch, tmp_path):
    from kotae.app import Kotae
    from kotae.indexing.loader import read_items
    from kotae.settings import load_settings

    app = Kotae(load_settings())
    app.indexer.index_many([(item, None) for _, item in read_items(SAMPLES / "knowledge.jsonl")])
    app.close()
    with slack_api() as slack, lambda_api(lambda payload: bot_handler.handler(payload, Context())) as lam:
        monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
        monkeypatch.setenv("KOTAE_SLACK_API_URL", slack.url)
        monkeypatch.setenv("KOTAE_SLACK_STREAMING", "false")  # post-then-update; streaming has its own tests
        monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", lam.url)
        bot_handler.slack_handler.cache_clear()
        bot_handler.runtime.cache_clear()
        kotae.aws.client.cache_clear()
        yield slack, lam
        lam.wait()
        bot_handler.slack_handler.cache_clear()
        bot_handler.runtime.cache_clear()


def use_profiles(monkeypatch, tmp_path, content: dict | str) -> None:
    """Point the bot at a channel-profile file with this content and rebuild it."""
    profiles = tmp_path / "profiles.json"
    profiles.write_text(content if isinstance(content, str) else json.dumps(content))
    monkeypatch.setenv("KOTAE_CHANNEL_PROFILES", str(profiles))
    bot_handler.slack_handler.cache_clear()
    bot_handler.runtime.cache_clear()


def slash_command(slack, text: str, response_path: str) -> dict:
    """A signed /kotae request as Slack sends it (form-encoded)."""
    import urllib.parse

    form = {
        "command": "/kotae",
        "text": text,
        "team_id": "T1",
        "channel_id": "C1",
        "user_id": "U1",
        "trigger_id": "1.1",
        "response_url": f"{slack.url}/{response_path}",
        "token": "t",
    }
    event = api_gateway_event(urllib.parse.urlencode(form))
    event["headers"]["content-type"] = "application/x-www-form-urlencoded"
    return event


def deliver(lam, body: str, **kwargs) -> dict:
    response = bot_handler.handler(api_gateway_event(body, **kwargs), Context())
    lam.wait()
    return response


def test_mention_is_answered_once_in_the_thread_with_sources(bot) -> None:
    slack, lam = bot
    response = deliver(lam, mention("How do I connect to the VPN from home?"))
    assert response["statusCode"] == 200 and lam.errors == []
    [placeholder] = slack.called("chat.postMessage")
    assert placeholder["thread_ts"] == "1700000000.000100" and placeholder["channel"] == "C1"
    [update] = slack.called("chat.update")
    blocks = json.loads(update["blocks"]) if isinstance(update["blocks"], str) else update["blocks"]
    sources = next(b for b in blocks if b["type"] == "section" and b["text"]["text"].startswith("*Sources*"))
    assert (
        "faq-en-003" in sources["text"]["text"] or "wiki.hoshizora.example/it/vpn" in sources["text"]["text"]
    )
    assert blocks[-1]["type"] == "actions"


def test_retries_and_duplicate_deliveries_never_answer_twice(bot) -> None:
    slack, lam = bot
    deliver(lam, mention("VPN?", event_id="Ev9"))
    deliver(lam, mention("VPN?", event_id="Ev9"), retry=1)
    deliver(lam, mention("VPN?", event_id="Ev9"))
    assert len(slack.called("chat.postMessage")) == 1


def test_a_failed_first_attempt_is_answered_on_retry(bot, monkeypatch) -> None:
    slack, lam = bot
    from kotae.answer.pipeline import AnswerPipeline
    from kotae.errors import ProviderThrottled

    real = AnswerPipeline.ask_stream
    calls = {"n": 0}

    def flaky(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ProviderThrottled("Bedrock throttled")
        yield from real(self, *args, **kwargs)

    monkeypatch.setattr(AnswerPipeline, "ask_stream", flaky)
    deliver(lam, mention("VPN?", event_id="Ev5"))
    [failed] = slack.called("chat.update")
    assert (
        "busy right now" in failed["text"] and "ref " in failed["text"] and "Traceback" not in failed["text"]
    )
    deliver(lam, mention("VPN?", event_id="Ev5"), retry=1)
    assert len(slack.called("chat.update")) == 2 and "*Sources*" in json.dumps(slack.called("chat.update")[1])


def test_a_delivery_that_arrives_while_the_first_is_answering_is_ignored(bot, monkeypatch, caplog) -> None:
    # GIVEN a second delivery of the event arrives while the first is still answering
    slack, lam = bot
    from slack_sdk import WebClient

    from bot.answering import Question, answer_in_thread
    from kotae.answer.pipeline import AnswerPipeline

    real = AnswerPipeline.ask_stream
    second = Question("Ev8", "T1", "C1", "U1", "1700000000.000100", "VPN?")

    def slow(self, *args, **kwargs):
        if not getattr(slow, "entered", False):
            slow.entered = True
            answer_in_thread(
                WebClient(token="xoxb-test", base_url=slack.url + "/"), bot_handler.runtime(), second
            )
        yield from real(self, *args, **kwargs)

    monkeypatch.setattr(AnswerPipeline, "ask_stream", slow)
    # WHEN the first delivery is answered
    deliver(lam, mention("VPN?", event_id="Ev8"))
    # THEN there is one placeholder and one answer; the second delivery was logged and dropped
    assert len(slack.called("chat.postMessage")) == 1 and len(slack.called("chat.update")) == 1
    assert any(r.message == "duplicate delivery ignored" for r in caplog.records)


def test_a_failing_dedupe_table_is_a_visible_error_not_silence(bot, monkeypatch) -> None:
    # GIVEN the idempotency store cannot be written (e.g. DynamoDB unavailable)
    slack, lam = bot
    from bot.idempotency import SQLitePersistenceLayer

    def down(self, data_record):
        raise ConnectionError("dynamodb unreachable")

    monkeypatch.setattr(SQLitePersistenceLayer, "_put_record", down)
    # WHEN a mention arrives
    deliver(lam, mention("VPN?", event_id="Ev6"))
    # THEN the thread gets an error with a reference, and no answer was attempted
    [reply] = slack.called("chat.postMessage")
    assert reply["thread_ts"] == "1700000000.000100"
    assert "ref " in reply["text"] and "dynamodb" not in reply["text"].lower()
    assert slack.called("chat.update") == []


def test_a_failing_answer_log_keeps_the_answer_and_a_retry_does_not_repeat_it(
    bot, monkeypatch, caplog
) -> None:
    # GIVEN the answer log cannot be written
    slack, lam = bot
    from kotae.errors import StoreError
    from kotae.ops.answer_log import LocalSink

    def down(self, kind, record):
        raise StoreError("s3 unavailable")

    monkeypatch.setattr(LocalSink, "write", down)
    # WHEN a mention is answered and Slack then retries it
    deliver(lam, mention("VPN?", event_id="Ev7"))
    deliver(lam, mention("VPN?", event_id="Ev7"), retry=1)
    # THEN the one answer stands and the failure is in the log
    [update] = slack.called("chat.update")
    assert "*Sources*" in json.dumps(update)
    assert any(r.message == "answer bookkeeping failed" for r in caplog.records)


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        pytest.param({"secret": "wrong"}, 401, id="bad-signature"),
        pytest.param({"timestamp": int(time.time()) - 3600}, 401, id="stale-timestamp"),
    ],
)
def test_unsigned_requests_are_refused(bot, kwargs, status) -> None:
    slack, lam = bot
    assert deliver(lam, mention("VPN?"), **kwargs)["statusCode"] == status
    assert slack.calls == [] and lam.invocations == []


def test_url_verification(bot) -> None:
    _slack, lam = bot
    body = json.dumps({"type": "url_verification", "challenge": "abc123", "token": "t"})
    response = deliver(lam, body)
    assert response["statusCode"] == 200 and "abc123" in response["body"]


def test_bot_messages_are_ignored(bot) -> None:
    slack, lam = bot
    deliver(lam, mention("VPN?", event_id="Ev7", bot_id="B1"))
    assert not [name for name, _ in slack.calls if name.startswith("chat.")]


def test_empty_and_oversized_questions_get_a_visible_error(bot) -> None:
    slack, lam = bot
    deliver(lam, mention("", event_id="Ev10"))
    deliver(lam, mention("x" * 20_000, event_id="Ev11"))
    texts = [u["text"] for u in slack.called("chat.update")]
    assert "question is empty" in texts[0] and "20,000 characters" in texts[1]


def test_direct_messages_are_answered_and_channel_chatter_is_not(bot) -> None:
    slack, lam = bot
    dm = {
        "type": "message",
        "channel_type": "im",
        "user": "U1",
        "text": "返品の期限は？",
        "ts": "1700000000.000200",
        "channel": "D1",
    }
    deliver(lam, json.dumps({"type": "event_callback", "team_id": "T1", "event_id": "EvD", "event": dm}))
    chatter = {**dm, "channel_type": "channel", "channel": "C2", "ts": "1700000000.000300"}
    deliver(lam, json.dumps({"type": "event_callback", "team_id": "T1", "event_id": "EvC", "event": chatter}))
    [placeholder] = slack.called("chat.postMessage")
    assert placeholder["channel"] == "D1" and placeholder["text"] == "調べています…"
    assert "faq-ja-014" in json.dumps(slack.called("chat.update")) or "returns" in json.dumps(
        slack.called("chat.update")
    )


def emf(capsys) -> dict:
    """Metric values from the EMF lines the handler printed, summed per name."""
    totals: dict[str, float] = {}
    for line in capsys.readouterr().out.splitlines():
        if '"_aws"' not in line:
            continue
        doc = json.loads(line)
        for metric in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            values = doc[metric["Name"]]
            totals[metric["Name"]] = totals.get(metric["Name"], 0) + sum(
                values if isinstance(values, list) else [values]
            )
    return totals


def test_answers_errors_and_feedback_are_counted_in_emf(bot, monkeypatch, capsys) -> None:
    _slack, lam = bot
    from kotae.answer.pipeline import AnswerPipeline
    from kotae.errors import ProviderThrottled

    capsys.readouterr()
    deliver(lam, mention("How do I connect to the VPN from home?", event_id="EvM1"))
    deliver(lam, mention("What is the cafeteria menu on Mars?", event_id="EvM2"))
    counted = emf(capsys)
    assert counted["Answers"] == 2 and counted["Refusals"] == 1 and "AnswerErrors" not in counted
    assert counted["Latency.retrieve"] > 0

    def down(self, *args, **kwargs):
        raise ProviderThrottled("Bedrock throttled")
        yield  # pragma: no cover

    monkeypatch.setattr(AnswerPipeline, "ask_stream", down)
    deliver(lam, mention("VPN?", event_id="EvM3"))
    assert emf(capsys)["AnswerErrors"] == 1


def test_feedback_clicks_are_recorded_against_the_answer(bot, tmp_path, capsys) -> None:
    import urllib.parse

    _slack, lam = bot
    payload = {
        "type": "block_actions",
        "team": {"id": "T1"},
        "user": {"id": "U2"},
        "api_app_id": "A1",
        "token": "t",
        "trigger_id": "1.2",
        "container": {"type": "message", "channel_id": "C1", "message_ts": "1700000000.000100"},
        "channel": {"id": "C1"},
        "message": {"ts": "1700000000.000100"},
        "actions": [
            {
                "type": "button",
                "action_id": "feedback_down",
                "block_id": "feedback:abc",
                "value": "abc",
                "action_ts": "1",
            }
        ],
    }
    body = "payload=" + urllib.parse.quote(json.dumps(payload))
    event = api_gateway_event(body)
    event["headers"]["content-type"] = "application/x-www-form-urlencoded"
    assert bot_handler.handler(event, Context())["statusCode"] == 200
    lam.wait()
    logs = list((tmp_path / "data" / "logs" / "feedback").glob("dt=*/feedback.jsonl"))
    [record] = [json.loads(line) for line in logs[0].read_text().splitlines()]
    assert (record["answer_id"], record["feedback"], record["user_id"]) == ("abc", "down", "U2")
    assert emf(capsys)["FeedbackDown"] == 1


def test_a_restricted_scope_never_appears_in_another_channels_answer(bot, monkeypatch, tmp_path) -> None:
    slack, lam = bot
    use_profiles(
        monkeypatch,
        tmp_path,
        {"default": {"scopes": ["public"]}, "channels": {"CHR": {"scopes": ["public", "hr"]}}},
    )
    deliver(lam, mention("給与 等級 G4 の範囲は？", event_id="EvP1"))
    deliver(lam, mention("給与 等級 G4 の範囲は？", event_id="EvP2", channel="CHR"))
    public, hr = (json.dumps(u, ensure_ascii=False) for u in slack.called("chat.update"))
    salary_bands = "hr/restricted/salary-bands"  # faq-ja-020's url, scope "hr"
    assert salary_bands not in public and "基本給レンジ" not in public
    assert salary_bands in hr


def test_a_channel_profile_chooses_prompt_version_and_model(bot, monkeypatch, tmp_path) -> None:
    # GIVEN a channel whose profile names prompt v2 and another model
    slack, lam = bot
    from kotae.answer.pipeline import AnswerPipeline

    profile = {"scopes": ["public"], "prompt_version": "v2", "model_id": "jp.anthropic.claude-sonnet-4-5"}
    use_profiles(monkeypatch, tmp_path, {"channels": {"CV2": profile}})
    seen = []
    real = AnswerPipeline.ask_stream

    def spy(self, question, *, history=(), options=None):
        seen.append(options)
        yield from real(self, question, history=history, options=options)

    monkeypatch.setattr(AnswerPipeline, "ask_stream", spy)
    # WHEN that channel and another one ask
    deliver(lam, mention("How do I connect to the VPN from home?", event_id="EvV1", channel="CV2"))
    deliver(lam, mention("How do I connect to the VPN from home?", event_id="EvV2"))
    # THEN the pipeline got the profile's choices for that channel only, and the answer says v2
    assert (seen[0].prompt_version, seen[0].model_id) == ("v2", "jp.anthropic.claude-sonnet-4-5")
    assert (seen[1].prompt_version, seen[1].model_id) == (None, None)
    assert "v2" in json.dumps(slack.called("chat.update")[0])


def test_a_broken_profile_file_is_a_visible_error(bot, monkeypatch, tmp_path) -> None:
    slack, lam = bot
    use_profiles(monkeypatch, tmp_path, "{not json")
    deliver(lam, mention("VPN?", event_id="EvP3"))
    [update] = slack.called("chat.update")
    assert "not configured correctly" in update["text"] and "ref " in update["text"]


def test_slash_command_answers_privately(bot, capsys) -> None:
    slack, lam = bot
    capsys.readouterr()
    response = bot_handler.handler(
        slash_command(slack, "How do I connect to the VPN from home?", "response/abc"), Context()
    )
    lam.wait()
    assert response["statusCode"] == 200 and json.loads(response["body"])["response_type"] == "ephemeral"
    [reply] = slack.called("response/abc")
    assert reply["response_type"] == "ephemeral" and "*Sources*" in json.dumps(reply["blocks"])
    assert slack.called("chat.postMessage") == []
    assert emf(capsys)["Answers"] == 1  # counted like a thread answer


def _thread_reply(
    text: str, event_id: str, ts: str, thread_ts: str = "1700000000.000100", channel: str = "C1"
) -> str:
    event = {
        "type": "message",
        "channel_type": "channel",
        "user": "U1",
        "text": text,
        "ts": ts,
        "thread_ts": thread_ts,
        "channel": channel,
    }
    return json.dumps({"type": "event_callback", "team_id": "T1", "event_id": event_id, "event": event})


def test_thread_follow_ups_are_answered_with_the_thread_as_history(bot, monkeypatch, tmp_path) -> None:
    slack, lam = bot
    use_profiles(monkeypatch, tmp_path, {"default": {"scopes": ["public"], "answer_followups": True}})
    # GIVEN the bot answered a mention, which started a thread
    deliver(lam, mention("How do I connect to the VPN from home?", event_id="EvT1"))
    slack.replies["1700000000.000100"] = [
        {"ts": "1700000000.000100", "user": "U1", "text": "<@UBOT> How do I connect to the VPN from home?"},
        {"ts": "1700000000.000150", "bot_id": "B1", "text": "Use GlobalProtect."},
        {"ts": "1700000000.000200", "user": "U1", "text": "and what if it keeps failing?"},
    ]
    # WHEN someone replies in that thread without mentioning the bot
    deliver(lam, _thread_reply("and what if it keeps failing?", "EvT2", "1700000000.000200"))
    # AND someone replies in a thread the bot never answered
    deliver(lam, _thread_reply("unrelated", "EvT3", "1700000000.000300", thread_ts="1700000000.000999"))
    # THEN only the follow-up is answered, in the same thread, using the thread for context
    posts = slack.called("chat.postMessage")
    assert [p["thread_ts"] for p in posts] == ["1700000000.000100", "1700000000.000100"]
    assert slack.called("conversations.replies")[-1]["ts"] == "1700000000.000100"
    assert "GlobalProtect" in json.dumps(slack.called("chat.update")[-1])


def test_follow_ups_are_off_unless_the_profile_allows_them(bot) -> None:
    slack, lam = bot
    deliver(lam, mention("VPN?", event_id="EvF1"))
    deliver(lam, _thread_reply("and then?", "EvF2", "1700000000.000200"))
    assert len(slack.called("chat.postMessage")) == 1


def test_assistant_thread_start_suggests_prompts_and_dm_answers_show_a_status(bot) -> None:
    slack, lam = bot
    started = {
        "type": "assistant_thread_started",
        "assistant_thread": {
            "user_id": "U1",
            "channel_id": "D9",
            "thread_ts": "1700000001.000100",
            "context": {},
        },
    }
    deliver(
        lam, json.dumps({"type": "event_callback", "team_id": "T1", "event_id": "EvA1", "event": started})
    )
    [suggested] = slack.called("assistant.threads.setSuggestedPrompts")
    prompts = (
        json.loads(suggested["prompts"]) if isinstance(suggested["prompts"], str) else suggested["prompts"]
    )
    assert suggested["channel_id"] == "D9" and len(prompts) == 3
    dm = {
        "type": "message",
        "channel_type": "im",
        "user": "U1",
        "text": "VPN?",
        "ts": "1700000001.000200",
        "thread_ts": "1700000001.000100",
        "channel": "D9",
    }
    deliver(lam, json.dumps({"type": "event_callback", "team_id": "T1", "event_id": "EvA2", "event": dm}))
    [status] = slack.called("assistant.threads.setStatus")
    assert status["thread_ts"] == "1700000001.000100" and status["status"] == "Looking that up…"


@pytest.fixture
def streaming(bot, monkeypatch):
    monkeypatch.setenv("KOTAE_SLACK_STREAMING", "true")
    bot_handler.slack_handler.cache_clear()
    bot_handler.runtime.cache_clear()
    return bot


def test_answers_stream_into_the_thread_and_end_with_sources_and_buttons(streaming) -> None:
    slack, lam = streaming
    deliver(lam, mention("How do I connect to the VPN from home?", event_id="EvS1"))
    [start] = slack.called("chat.startStream")
    assert (start["thread_ts"], start["recipient_user_id"], start["recipient_team_id"]) == (
        "1700000000.000100",
        "U1",
        "T1",
    )
    [stop] = slack.called("chat.stopStream")
    streamed = "".join(a["markdown_text"] for a in slack.called("chat.appendStream")) + stop.get(
        "markdown_text", ""
    )
    assert "GlobalProtect" in streamed
    blocks = json.loads(stop["blocks"]) if isinstance(stop["blocks"], str) else stop["blocks"]
    assert blocks[0]["text"]["text"].startswith("*Sources*") and blocks[-1]["type"] == "actions"
    assert slack.called("chat.postMessage") == []


def test_a_refusal_is_streamed_as_the_not_found_message(streaming) -> None:
    slack, lam = streaming
    deliver(lam, mention("Who won the bowling tournament in 1987?", event_id="EvS2"))
    [stop] = slack.called("chat.stopStream")
    assert "couldn't find" in stop["markdown_text"]


def test_an_error_while_streaming_ends_the_stream_visibly(streaming, monkeypatch) -> None:
    from kotae.answer.pipeline import AnswerPipeline
    from kotae.errors import ProviderUnavailable

    def broken(self, *args, **kwargs):
        raise ProviderUnavailable("Bedrock is down")
        yield  # pragma: no cover

    monkeypatch.setattr(AnswerPipeline, "ask_stream", broken)
    slack, lam = streaming
    deliver(lam, mention("VPN?", event_id="EvS3"))
    [stop] = slack.called("chat.stopStream")
    assert "unavailable right now" in stop["markdown_text"] and "ref " in stop["markdown_text"]


def test_where_streaming_is_refused_the_answer_is_posted_then_updated(streaming) -> None:
    slack, lam = streaming
    slack.refuse.add("chat.startStream")
    deliver(lam, mention("How do I connect to the VPN from home?", event_id="EvS4"))
    assert len(slack.called("chat.postMessage")) == 1 and len(slack.called("chat.update")) == 1
    assert slack.called("chat.appendStream") == []


def test_slash_command_errors_are_private_and_carry_a_reference(bot, capsys) -> None:
    slack, lam = bot
    capsys.readouterr()
    assert bot_handler.handler(slash_command(slack, "", "response/empty"), Context())["statusCode"] == 200
    lam.wait()
    [reply] = slack.called("response/empty")
    assert (
        reply["response_type"] == "ephemeral"
        and "question is empty" in reply["text"]
        and "(ref " in reply["text"]
    )
    assert emf(capsys)["AnswerErrors"] == 1
