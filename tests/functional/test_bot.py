"""The bot Lambda through API Gateway events signed for real, against local Slack and Lambda stand-ins."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import pytest
from slack_sdk.signature import SignatureVerifier

import kotae.aws
from bot import handler as bot_handler
from bot.runtime import BotRuntime
from kotae.app import Kotae
from kotae.errors import ProviderThrottled, ProviderUnavailable, StoreError
from kotae.settings import load_settings
from tests.conftest import SAMPLES
from tests.fakes import FailingSink, FakeGenerator, UnavailablePersistence
from tests.standins.slack import lambda_api, slack_api

SECRET = "test-signing-secret"


@dataclass
class Context:
    function_name: str = "kotae-bot"
    invoked_function_arn: str = "arn:aws:lambda:ap-northeast-1:123456789012:function:kotae-bot"
    aws_request_id: str = "ack"

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


def lazy_invocation(payload: dict) -> dict:
    """What Lambda runs when Bolt invokes the function for a lazy listener."""
    return bot_handler.handler(payload, Context(aws_request_id="lazy"))


@pytest.fixture
def bot(monkeypatch, tmp_path):
    from kotae.indexing.loader import read_items

    app = Kotae(load_settings())
    app.indexer.index_many([(item, None) for _, item in read_items(SAMPLES / "knowledge.jsonl")])
    app.close()
    with slack_api() as slack, lambda_api(lazy_invocation) as lam:
        monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
        monkeypatch.setenv("KOTAE_SLACK_API_URL", slack.url)
        monkeypatch.setenv("KOTAE_SLACK_STREAMING", "false")  # post-then-update; streaming has its own tests
        monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", lam.url)
        bot_handler.install_runtime(None)
        kotae.aws.client.cache_clear()
        yield slack, lam
        lam.wait()
        bot_handler.install_runtime(None)


def use_runtime(**parts) -> BotRuntime:
    """Answer with a runtime built from the environment, except for these parts (fakes)."""
    runtime = BotRuntime.from_settings(load_settings(), **parts)
    bot_handler.install_runtime(runtime)
    return runtime


def use_generator(generator) -> BotRuntime:
    """Answer with the real core around this generator."""
    return use_runtime(kotae=Kotae(load_settings(), generator=generator))


def use_profiles(monkeypatch, tmp_path, content: dict | str) -> None:
    """Point the bot at a channel-profile file with this content and rebuild it."""
    profiles = tmp_path / "profiles.json"
    profiles.write_text(content if isinstance(content, str) else json.dumps(content))
    monkeypatch.setenv("KOTAE_CHANNEL_PROFILES", str(profiles))
    bot_handler.install_runtime(None)


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
    assert blocks[-1]["type"] == "context_actions"


def test_retries_and_duplicate_deliveries_never_answer_twice(bot) -> None:
    slack, lam = bot
    deliver(lam, mention("VPN?", event_id="Ev9"))
    deliver(lam, mention("VPN?", event_id="Ev9"), retry=1)
    deliver(lam, mention("VPN?", event_id="Ev9"))
    assert len(slack.called("chat.postMessage")) == 1


def test_a_failed_first_attempt_is_answered_on_retry(bot) -> None:
    slack, lam = bot
    use_generator(FakeGenerator().enqueue(ProviderThrottled("Bedrock throttled")))
    deliver(lam, mention("VPN?", event_id="Ev5"))
    [failed] = slack.called("chat.update")
    assert (
        "busy right now" in failed["text"] and "ref " in failed["text"] and "Traceback" not in failed["text"]
    )
    deliver(lam, mention("VPN?", event_id="Ev5"), retry=1)
    assert len(slack.called("chat.update")) == 2 and "*Sources*" in json.dumps(slack.called("chat.update")[1])


def test_a_delivery_that_arrives_while_the_first_is_answering_is_ignored(bot, caplog) -> None:
    # GIVEN a second delivery of the event arrives while the first is still answering
    slack, lam = bot
    from slack_sdk import WebClient

    from bot.answering import answer_in_thread
    from bot.middleware import ProfileLookup
    from bot.profiles import ChannelProfile
    from bot.questions import Question

    second = Question("Ev8", "T1", "C1", "U1", "1700000000.000100", "VPN?")
    client = WebClient(token="xoxb-test", base_url=slack.url + "/")
    use_generator(
        FakeGenerator().during_next(
            lambda: answer_in_thread(client, bot_handler.runtime, second, ProfileLookup(ChannelProfile()))
        )
    )
    # WHEN the first delivery is answered
    deliver(lam, mention("VPN?", event_id="Ev8"))
    # THEN there is one placeholder and one answer; the second delivery was logged and dropped
    assert len(slack.called("chat.postMessage")) == 1 and len(slack.called("chat.update")) == 1
    assert any(r.message == "duplicate delivery ignored" for r in caplog.records)


def test_a_failing_dedupe_table_is_a_visible_error_not_silence(bot) -> None:
    # GIVEN the idempotency store cannot be written (e.g. DynamoDB unavailable)
    slack, lam = bot
    use_runtime(persistence=UnavailablePersistence(ConnectionError("dynamodb unreachable")))
    # WHEN a mention arrives
    deliver(lam, mention("VPN?", event_id="Ev6"))
    # THEN the thread gets an error with a reference, and no answer was attempted
    [reply] = slack.called("chat.postMessage")
    assert reply["thread_ts"] == "1700000000.000100"
    assert "ref " in reply["text"] and "dynamodb" not in reply["text"].lower()
    assert slack.called("chat.update") == []


def test_a_failing_answer_log_keeps_the_answer_and_a_retry_does_not_repeat_it(bot, caplog) -> None:
    # GIVEN the answer log cannot be written
    slack, lam = bot
    sink = FailingSink(StoreError("s3 unavailable"))
    use_runtime(log_sink=sink)
    # WHEN a mention is answered and Slack then retries it
    deliver(lam, mention("VPN?", event_id="Ev7"))
    deliver(lam, mention("VPN?", event_id="Ev7"), retry=1)
    # THEN the one answer stands and the failure is in the log
    [update] = slack.called("chat.update")
    assert "*Sources*" in json.dumps(update)
    assert [kind for kind, _ in sink.attempts] == ["answers"]
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
    assert lam.invocations == []  # dropped in the ack: no lazy invocation was started


def test_the_ack_builds_no_runtime_and_the_answering_invocation_registers_its_context(
    bot, monkeypatch
) -> None:
    # GIVEN a cold bot whose lazy invocations are only recorded, not run
    slack, _lam = bot
    with lambda_api(lambda payload: None) as held:
        monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", held.url)
        bot_handler.install_runtime(None)
        # WHEN a mention is acked
        response = bot_handler.handler(api_gateway_event(mention("VPN?", event_id="EvL1")), Context())
        held.wait()
    # THEN the ack built nothing of the runtime
    assert response["statusCode"] == 200 and not bot_handler.RUNTIME.built
    # AND WHEN Lambda runs the lazy invocation, it answers with the runtime built there,
    # whose idempotency config knows that invocation's remaining time
    [payload] = held.invocations
    assert lazy_invocation(payload)["statusCode"] == 200
    assert bot_handler.runtime().idempotency.lambda_context.aws_request_id == "lazy"
    assert len(slack.called("chat.update")) == 1


ACK_PROCESS = """
import json, sys, time
from slack_sdk.signature import SignatureVerifier
body = sys.argv[1]
ts = str(int(time.time()))
headers = {"content-type": "application/json", "x-slack-request-timestamp": ts,
           "x-slack-signature": SignatureVerifier(sys.argv[2]).generate_signature(timestamp=ts, body=body)}
class Context:
    function_name = "kotae-bot"; aws_request_id = "ack"
    invoked_function_arn = "arn:aws:lambda:ap-northeast-1:123456789012:function:kotae-bot"
from bot.handler import handler
response = handler({"requestContext": {"http": {"method": "POST"}}, "headers": headers, "body": body,
                    "isBase64Encoded": False}, Context())
print(json.dumps({"status": response["statusCode"], "modules": sorted(sys.modules)}))
"""


def cold_ack(body: str, script: str = ACK_PROCESS) -> tuple[dict, int]:
    """(what a fresh process, as at a Lambda cold start, printed after acking one signed
    request: its status and every module it imported; how many lazy invocations it started)."""
    import os
    import subprocess
    import sys

    with lambda_api(lambda payload: None) as held:
        env = {**os.environ, "AWS_ENDPOINT_URL_LAMBDA": held.url, "PYTHONPATH": str(SAMPLES.parent)}
        done = subprocess.run(
            [sys.executable, "-c", script, body, SECRET],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
    return json.loads(done.stdout.strip().splitlines()[-1]), len(held.invocations)


def test_a_cold_ack_imports_nothing_only_the_answer_needs(bot) -> None:
    # GIVEN a fresh process, as in a Lambda cold start
    # WHEN it acks one signed mention
    result, invocations = cold_ack(mention("VPN?", event_id="EvC1"))
    # THEN it acked and started the lazy invocation without loading settings, pydantic,
    # Powertools (idempotency, metrics, logging) or the answering code
    assert result["status"] == 200 and invocations == 1
    heavy = ("pydantic", "pydantic_settings", "aws_lambda_powertools", "kotae.settings", "bot.answering")
    assert [m for m in result["modules"] if m.startswith(heavy)] == []


@pytest.mark.parametrize(
    ("ask", "reply_path"),
    [
        pytest.param(
            lambda slack: api_gateway_event(mention("VPN?", event_id="EvB1")),
            "chat.postMessage",
            id="mention",
        ),
        pytest.param(lambda slack: slash_command(slack, "VPN?", "response/bad"), "response/bad", id="slash"),
    ],
)
def test_settings_the_answer_cannot_use_are_a_visible_error(bot, monkeypatch, ask, reply_path) -> None:
    # GIVEN a setting that does not validate (the ack does not read it)
    slack, lam = bot
    monkeypatch.setenv("KOTAE_TOP_K", "many")
    bot_handler.install_runtime(None)
    # WHEN a question arrives
    response = bot_handler.handler(ask(slack), Context())
    lam.wait()
    # THEN it was acked, and the asker sees that kotae is misconfigured, with a reference
    assert response["statusCode"] == 200 and lam.errors == []
    [reply] = slack.called(reply_path)
    assert "not configured correctly" in reply["text"] and "ref " in reply["text"]
    assert "KOTAE_TOP_K" not in reply["text"]


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


def test_answers_errors_and_feedback_are_counted_in_emf(bot, capsys) -> None:
    _slack, lam = bot
    capsys.readouterr()
    deliver(lam, mention("How do I connect to the VPN from home?", event_id="EvM1"))
    deliver(lam, mention("What is the cafeteria menu on Mars?", event_id="EvM2"))
    counted = emf(capsys)
    assert counted["Answers"] == 2 and counted["Refusals"] == 1 and "AnswerErrors" not in counted
    assert counted["Latency.retrieve"] > 0

    use_generator(FakeGenerator().enqueue(ProviderThrottled("Bedrock throttled")))
    deliver(lam, mention("VPN?", event_id="EvM3"))
    assert emf(capsys)["AnswerErrors"] == 1


def test_plain_feedback_buttons_of_older_answers_are_still_recorded(bot, tmp_path, capsys) -> None:
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
                "action_id": "feedback_up",
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
    assert (record["answer_id"], record["feedback"], record["user_id"]) == ("abc", "up", "U2")
    assert emf(capsys)["FeedbackUp"] == 1


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


class ModelRecordingKotae(Kotae):
    """The real core, noting each model an answer asks for other than the configured one."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.models_asked: list[str] = []

    def generator_for(self, model_id: str):
        self.models_asked.append(model_id)
        return super().generator_for(model_id)


def test_a_channel_profile_chooses_prompt_version_and_model(bot, monkeypatch, tmp_path) -> None:
    # GIVEN a channel whose profile names prompt v2 and another model
    slack, lam = bot
    profile = {"scopes": ["public"], "prompt_version": "v2", "model_id": "jp.anthropic.claude-sonnet-4-5"}
    use_profiles(monkeypatch, tmp_path, {"channels": {"CV2": profile}})
    core = ModelRecordingKotae(load_settings())
    use_runtime(kotae=core)
    # WHEN that channel and another one ask
    deliver(lam, mention("How do I connect to the VPN from home?", event_id="EvV1", channel="CV2"))
    deliver(lam, mention("How do I connect to the VPN from home?", event_id="EvV2"))
    # THEN the profile's model was asked for in that channel only, and only its answer says v2
    assert core.models_asked == ["jp.anthropic.claude-sonnet-4-5"]
    v2, default = (json.dumps(u, ensure_ascii=False) for u in slack.called("chat.update"))
    assert "/v2 ·" in v2 and "/v1 ·" in default


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
        {"ts": "1700000000.000150", "bot_id": slack.bot_id, "user": "UBOT", "text": "Use GlobalProtect."},
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
    bot_handler.install_runtime(None)
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
    assert "GlobalProtect" in slack.streamed_text()
    blocks = json.loads(stop["blocks"]) if isinstance(stop["blocks"], str) else stop["blocks"]
    assert blocks[0]["text"]["text"].startswith("*Sources*") and blocks[-1]["type"] == "context_actions"
    assert slack.called("chat.postMessage") == []


def test_a_refusal_is_streamed_as_the_not_found_message(streaming) -> None:
    slack, lam = streaming
    deliver(lam, mention("Who won the bowling tournament in 1987?", event_id="EvS2"))
    assert len(slack.called("chat.stopStream")) == 1 and "couldn't find" in slack.streamed_text()


def test_an_error_while_streaming_ends_the_stream_visibly(streaming) -> None:
    use_generator(FakeGenerator().enqueue(ProviderUnavailable("Bedrock is down")))
    slack, lam = streaming
    deliver(lam, mention("VPN?", event_id="EvS3"))
    assert len(slack.called("chat.stopStream")) == 1
    assert "unavailable right now" in slack.streamed_text() and "ref " in slack.streamed_text()


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


def test_kotae_log_text_mask_keeps_personal_data_out_of_the_answer_log(bot, monkeypatch, tmp_path) -> None:
    # GIVEN the operator asks for masking
    monkeypatch.setenv("KOTAE_LOG_TEXT", "mask")
    bot_handler.install_runtime(None)
    slack, lam = bot
    # WHEN someone asks with an e-mail address and an employee number in the question
    deliver(lam, mention("VPN from home for taro@hoshizora.example, employee 12345678?"))
    # THEN the answer is given, and the logged question has neither
    assert len(slack.called("chat.update")) == 1
    logs = list((tmp_path / "data" / "logs" / "answers").glob("dt=*/answers.jsonl"))
    [record] = [json.loads(line) for line in logs[0].read_text().splitlines()]
    assert record["question"] == "VPN from home for [email], employee [number]?"


class GuardedGenerator(FakeGenerator):
    """Plays a Bedrock guardrail that blocks every answer (stopReason guardrail_intervened)."""

    def generate(self, system, messages, *, context):
        generation = super().generate(system, messages, context=context)
        return generation.model_copy(
            update={"text": "Blocked by policy.", "stop_reason": "guardrail_intervened"}
        )


def test_a_guardrail_block_is_a_polite_reply_logged_as_blocked(bot, tmp_path) -> None:
    slack, lam = bot
    use_generator(GuardedGenerator())
    deliver(lam, mention("How do I connect to the VPN from home?"))
    [update] = slack.called("chat.update")
    assert "content policy" in update["text"]
    logs = list((tmp_path / "data" / "logs" / "answers").glob("dt=*/answers.jsonl"))
    [record] = [json.loads(line) for line in logs[0].read_text().splitlines()]
    assert record["outcome"] == "blocked" and record["cited"] == []
