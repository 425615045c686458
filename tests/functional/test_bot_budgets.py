"""Budgets through the real bot: signed Slack requests into the Lambda handler, the Slack and
Lambda stand-ins, the SQLite counters and DynamoDB counters in moto (README "Budgets")."""

from __future__ import annotations

import json
import threading

import boto3
import pytest
from moto import mock_aws

from bot import handler as bot_handler
from kotae.ops.budgets import Budgets, policy_of
from kotae.ops.budgets.dynamodb import DynamoDBCounters
from kotae.settings import load_settings
from tests.fakes import FakeGenerator
from tests.functional import test_bot
from tests.functional.test_bot import Context, api_gateway_event, deliver, emf, mention, slash_command
from tests.unit.test_budget_counters import TABLE, OneRequestAtATime, create_table

bot = test_bot.bot  # the same fixture: a real Bolt app against the Slack and Lambda stand-ins
VPN = "How do I connect to the VPN from home?"


def replies(slack) -> list[str]:
    """What each answer or refusal said, in order (the placeholder is updated with it)."""
    return [json.dumps(update, ensure_ascii=False) for update in slack.called("chat.update")]


def answered(slack) -> int:
    return sum("*Sources*" in reply for reply in replies(slack))


def limited(monkeypatch, **settings: str) -> FakeGenerator:
    """Set KOTAE_BUDGET_* and answer with the real core around a generator that counts calls."""
    for name, value in settings.items():
        monkeypatch.setenv(f"KOTAE_BUDGET_{name.upper()}", value)
    generator = FakeGenerator()
    test_bot.use_generator(generator)
    return generator


def test_the_sixth_question_gets_a_polite_reply_and_reaches_no_model(bot, monkeypatch, capsys) -> None:
    # GIVEN five questions an hour per person
    slack, lam = bot
    generator = limited(monkeypatch, user="5/1h")
    capsys.readouterr()
    # WHEN one person asks six times (and Slack retries the sixth)
    for n in range(6):
        deliver(lam, mention(VPN, event_id=f"EvQ{n}"))
    deliver(lam, mention(VPN, event_id="EvQ5"), retry=1)
    # THEN five are answered; the sixth is told, politely and once, when to ask again
    *_, refusal = slack.called("chat.update")
    assert answered(slack) == 5 and len(slack.called("chat.update")) == 6
    assert refusal["text"].startswith("You have reached your question limit for now. You can ask again in ")
    assert "ref " not in refusal["text"]
    # AND the model was asked five times only; the refusal is counted, not as an error
    assert len(generator.history) == 5
    counted = emf(capsys)
    assert counted["BudgetExceeded"] == 1 and counted["Answers"] == 5 and "AnswerErrors" not in counted


def test_the_budget_metric_carries_the_subject(bot, monkeypatch, capsys) -> None:
    slack, lam = bot
    limited(monkeypatch, channel="1/1h")
    deliver(lam, mention(VPN, event_id="EvM1"))
    capsys.readouterr()
    deliver(lam, mention(VPN, event_id="EvM2", user="U2"))
    [doc] = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "BudgetExceeded" in line]
    assert doc["subject"] == "channel" and doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["subject"]]
    assert "This channel has reached its question limit" in slack.called("chat.update")[-1]["text"]


def test_a_japanese_question_is_refused_in_japanese(bot, monkeypatch) -> None:
    slack, lam = bot
    limited(monkeypatch, user="1/1h")
    deliver(lam, mention("返品の期限は？", event_id="EvJ1"))
    deliver(lam, mention("返品の期限は？", event_id="EvJ2"))
    text = slack.called("chat.update")[-1]["text"]
    assert text.startswith("ご利用いただける質問数の上限に達しました。") and "分後にまた質問できます" in text


def test_admins_are_exempt(bot, monkeypatch) -> None:
    slack, lam = bot
    generator = limited(monkeypatch, workspace="2/1h", admins="UADMIN")
    for n in range(4):
        deliver(lam, mention(VPN, event_id=f"EvA{n}", user="UADMIN"))
    deliver(lam, mention(VPN, event_id="EvA8"))
    deliver(lam, mention(VPN, event_id="EvA9", user="U2"))
    deliver(lam, mention(VPN, event_id="EvA10", user="U3"))
    assert answered(slack) == 6 and len(generator.history) == 6
    assert "This workspace has reached its question limit" in slack.called("chat.update")[-1]["text"]


def test_a_channel_profile_tightens_or_lifts_the_user_limit(bot, monkeypatch, tmp_path) -> None:
    # GIVEN three questions an hour per person, one in CQUIET, none in CFREE
    slack, lam = bot
    test_bot.use_profiles(
        monkeypatch,
        tmp_path,
        {"channels": {"CQUIET": {"budget": {"user": "1/1h"}}, "CFREE": {"budget": {"user": "off"}}}},
    )
    generator = limited(monkeypatch, user="3/1h")
    # WHEN one person asks twice in CQUIET and five times in CFREE
    deliver(lam, mention(VPN, event_id="EvP1", channel="CQUIET"))
    deliver(lam, mention(VPN, event_id="EvP2", channel="CQUIET"))
    for n in range(5):
        deliver(lam, mention(VPN, event_id=f"EvP{3 + n}", channel="CFREE"))
    # THEN only the second question in CQUIET is refused
    refused = [i for i, reply in enumerate(replies(slack)) if "question limit" in reply]
    assert refused == [1] and len(generator.history) == 6


def test_slash_command_refusals_are_private(bot, monkeypatch) -> None:
    slack, lam = bot
    limited(monkeypatch, user="1/1h")
    for path in ("response/one", "response/two"):
        assert bot_handler.handler(slash_command(slack, VPN, path), Context())["statusCode"] == 200
        lam.wait()
    [reply] = slack.called("response/two")
    assert reply["response_type"] == "ephemeral" and "question limit" in reply["text"]


def test_tokens_per_day_refuse_the_question_after_the_one_that_went_over(bot, monkeypatch) -> None:
    # GIVEN 150 tokens a day per person; each fake answer uses 120
    slack, lam = bot
    generator = limited(monkeypatch, user_tokens="150")
    for n in range(3):
        deliver(lam, mention(VPN, event_id=f"EvT{n}"))
    assert answered(slack) == 2 and len(generator.history) == 2
    assert "usage limit for today" in slack.called("chat.update")[-1]["text"]


def test_empty_questions_use_no_budget(bot, monkeypatch) -> None:
    slack, lam = bot
    limited(monkeypatch, user="1/1h")
    deliver(lam, mention("", event_id="EvE1"))
    deliver(lam, mention(VPN, event_id="EvE2"))
    first, second = replies(slack)
    assert "question is empty" in first and "*Sources*" in second


# --- misconfigured budgets stop at start ------------------------------------------------------


def test_kotae_slack_stops_at_start_naming_every_bad_budget(run, monkeypatch) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    started = []
    monkeypatch.setattr(SocketModeHandler, "start", lambda self: started.append(self))
    for name, value in {
        "SLACK_APP_TOKEN": "xapp-t",
        "SLACK_BOT_TOKEN": "xoxb-t",
        "SLACK_SIGNING_SECRET": "s",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KOTAE_BUDGET_USER", "-3/1h")
    monkeypatch.setenv("KOTAE_BUDGET_CHANNEL_TOKENS", "lots")
    code, _, err = run("slack")
    assert code == 2 and started == []
    assert err.count("invalid setting") == 1
    assert "KOTAE_BUDGET_USER" in err and "KOTAE_BUDGET_CHANNEL_TOKENS" in err and "COUNT/WINDOW" in err


def test_on_lambda_a_bad_budget_setting_is_a_visible_error_and_no_answer(bot, monkeypatch) -> None:
    slack, lam = bot
    monkeypatch.setenv("KOTAE_BUDGET_WORKSPACE", "lots/1d")
    bot_handler.install_runtime(None)
    deliver(lam, mention(VPN, event_id="EvB1"))
    [reply] = slack.called("chat.postMessage")
    assert "not configured correctly" in reply["text"] and "ref " in reply["text"]
    assert slack.called("chat.update") == []


def test_a_bad_budget_in_a_channel_profile_is_a_visible_error(bot, monkeypatch, tmp_path) -> None:
    slack, lam = bot
    test_bot.use_profiles(monkeypatch, tmp_path, {"channels": {"C1": {"budget": {"user": "-3/1h"}}}})
    deliver(lam, mention(VPN, event_id="EvB2"))
    [update] = slack.called("chat.update")
    assert "not configured correctly" in update["text"] and "ref " in update["text"]


# --- DynamoDB counters (moto) ------------------------------------------------------------------


@pytest.fixture
def budget_table(bot, monkeypatch):
    """KOTAE_BUDGET_TABLE in moto; the Slack and Lambda stand-ins are local URLs moto lets through."""
    with mock_aws():
        monkeypatch.setenv("KOTAE_BUDGET_TABLE", TABLE)
        yield bot


def test_dynamodb_counters_refuse_the_question_over_the_limit(budget_table, monkeypatch) -> None:
    slack, lam = budget_table
    create_table(boto3.client("dynamodb", region_name="ap-northeast-1"))
    generator = limited(monkeypatch, user="1/1h")
    deliver(lam, mention(VPN, event_id="EvD1"))
    deliver(lam, mention(VPN, event_id="EvD2"))
    assert answered(slack) == 1 and len(generator.history) == 1
    assert "question limit" in slack.called("chat.update")[-1]["text"]


def test_a_failing_budget_table_refuses_visibly_and_reaches_no_model(
    budget_table, monkeypatch, capsys
) -> None:
    # GIVEN the budget table does not exist (or cannot be reached)
    slack, lam = budget_table
    generator = limited(monkeypatch, user="5/1h")
    capsys.readouterr()
    # WHEN a question arrives
    deliver(lam, mention(VPN, event_id="EvD3"))
    # THEN the person sees that the budget cannot be checked, with a reference; no model was asked
    [update] = slack.called("chat.update")
    assert "budget cannot be checked right now" in update["text"] and "ref " in update["text"]
    assert TABLE not in update["text"] and generator.history == []
    assert emf(capsys)["AnswerErrors"] == 1


def test_a_failing_token_count_keeps_the_answer(budget_table, monkeypatch, caplog) -> None:
    slack, lam = budget_table
    limited(monkeypatch, user_tokens="1000")
    # the check passes, then the table goes away before the tokens are added
    runtime = bot_handler.runtime()
    runtime.budgets.counters.take = lambda claims: []
    deliver(lam, mention(VPN, event_id="EvD4"))
    assert answered(slack) == 1
    assert any(r.message == "budget tokens not recorded" for r in caplog.records)


# --- the race --------------------------------------------------------------------------------


@pytest.mark.parametrize("store", ["sqlite", "dynamodb"])
def test_twenty_concurrent_questions_against_a_limit_of_five_give_exactly_five_answers(
    bot, monkeypatch, store
) -> None:
    # GIVEN five questions an hour per person, counted in SQLite or in DynamoDB (moto)
    slack, lam = bot
    monkeypatch.setenv("KOTAE_BUDGET_USER", "5/1h")
    generator = FakeGenerator()
    with mock_aws():
        budgets = None
        if store == "dynamodb":
            client = boto3.client("dynamodb", region_name="ap-northeast-1")
            create_table(client)
            budgets = Budgets(policy_of(load_settings()), DynamoDBCounters(OneRequestAtATime(client), TABLE))
        test_bot.use_runtime(kotae=test_bot.Kotae(load_settings(), generator=generator), budgets=budgets)
        # WHEN twenty signed mentions from one person arrive at once
        start = threading.Barrier(20)

        def ask(n: int) -> None:
            start.wait()
            bot_handler.handler(api_gateway_event(mention(VPN, event_id=f"EvR{n}")), Context())

        threads = [threading.Thread(target=ask, args=(n,)) for n in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)  # generous: the machine may be busy
        lam.wait()
    # THEN exactly five are answered and fifteen are told when to ask again
    assert lam.errors == [] and len(slack.called("chat.update")) == 20
    assert answered(slack) == 5 and len(generator.history) == 5
    assert sum("question limit" in reply for reply in replies(slack)) == 15
