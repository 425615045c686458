"""Budget limits: how they are written, how a channel profile overrides them, the fixed windows,
and what a person is told (kotae.ops.budgets.limits, kotae.messages)."""

from __future__ import annotations

import json

import pytest
from pydantic import TypeAdapter, ValidationError

from bot.profiles import ChannelProfile
from kotae.errors import ConfigError
from kotae.messages import budget_refusal, wait_phrase
from kotae.ops.budgets import BudgetOverride, BudgetPolicy, QuestionLimit, SubjectLimits, policy_of
from kotae.ops.budgets.limits import SettingQuestions, window
from kotae.settings import load_settings

QUESTIONS = TypeAdapter(SettingQuestions)


@pytest.mark.parametrize(
    ("written", "count", "seconds"),
    [
        pytest.param("20/1h", 20, 3600, id="per-hour"),
        pytest.param("5/10m", 5, 600, id="ten-minutes"),
        pytest.param("200/1d", 200, 86_400, id="per-day"),
        pytest.param(" 3 / h ", 3, 3600, id="unit-alone-and-spaces"),
        pytest.param("7/90S", 7, 90, id="seconds-upper-case"),
        pytest.param("1/7d", 1, 7 * 86_400, id="longest-window"),
    ],
)
def test_question_limits_are_written_count_slash_window(written, count, seconds) -> None:
    assert QUESTIONS.validate_python(written) == QuestionLimit(count=count, window_seconds=seconds)


@pytest.mark.parametrize("written", [None, "", "off", "OFF"])
def test_unset_empty_and_off_are_no_limit(written) -> None:
    assert QUESTIONS.validate_python(written) is None


@pytest.mark.parametrize(
    ("written", "says"),
    [
        pytest.param("20 per hour", "write COUNT/WINDOW", id="words"),
        pytest.param("-3/1h", "write COUNT/WINDOW", id="negative"),
        pytest.param("0/1h", "count must be at least 1", id="zero"),
        pytest.param("5/30s", "outside 1m to 7d", id="window-too-short"),
        pytest.param("5/8d", "outside 1m to 7d", id="window-too-long"),
        pytest.param("5/1w", "write COUNT/WINDOW", id="unknown-unit"),
        pytest.param("twenty", "write COUNT/WINDOW", id="no-slash"),
    ],
)
def test_a_bad_question_limit_says_how_to_write_one(written, says) -> None:
    with pytest.raises(ValidationError, match=says):
        QUESTIONS.validate_python(written)


def test_settings_become_the_policy() -> None:
    settings = load_settings(
        budget_user="20/1h",
        budget_channel="off",
        budget_workspace="500/1d",
        budget_user_tokens="50000",
        budget_workspace_tokens=2_000_000,
        budget_admins="UADMIN1, WADMIN2,",
    )
    assert policy_of(settings) == BudgetPolicy(
        user=SubjectLimits(questions=QuestionLimit(count=20, window_seconds=3600), tokens_per_day=50_000),
        channel=SubjectLimits(),
        workspace=SubjectLimits(
            questions=QuestionLimit(count=500, window_seconds=86_400), tokens_per_day=2_000_000
        ),
        admins=frozenset({"UADMIN1", "WADMIN2"}),
    )


def test_no_budget_settings_is_no_limit() -> None:
    policy = policy_of(load_settings())
    assert (
        not any(policy.of(s).any for s in ("user", "channel", "workspace")) and policy.admins == frozenset()
    )


def test_every_bad_budget_setting_is_named_in_one_message(monkeypatch) -> None:
    # GIVEN four budget settings that are wrong in four ways, set in the environment
    monkeypatch.setenv("KOTAE_BUDGET_USER", "20 per hour")
    monkeypatch.setenv("KOTAE_BUDGET_WORKSPACE", "0/1d")
    monkeypatch.setenv("KOTAE_BUDGET_CHANNEL_TOKENS", "-5")
    monkeypatch.setenv("KOTAE_BUDGET_USER_TOKENS", "lots")
    monkeypatch.setenv("KOTAE_BUDGET_ADMINS", "UADMIN1,bob")
    # WHEN the settings are loaded THEN one ConfigError names each of them
    with pytest.raises(ConfigError) as raised:
        load_settings()
    message = str(raised.value)
    for name in ("USER", "WORKSPACE", "CHANNEL_TOKENS", "USER_TOKENS", "ADMINS"):
        assert f"KOTAE_BUDGET_{name}:" in message
    assert message.count("invalid setting") == 1 and "'bob'" in message


def test_a_channel_profile_overrides_user_and_channel_limits_only() -> None:
    policy = BudgetPolicy(
        user=SubjectLimits(questions=QuestionLimit(count=20, window_seconds=3600), tokens_per_day=100),
        channel=SubjectLimits(questions=QuestionLimit(count=50, window_seconds=3600)),
        workspace=SubjectLimits(tokens_per_day=1000),
    )
    override = BudgetOverride.model_validate({"user": "5/10m", "channel": "off", "channel_tokens": 40})
    applied = override.apply(policy)
    assert applied.user == SubjectLimits(
        questions=QuestionLimit(count=5, window_seconds=600), tokens_per_day=100
    )
    assert applied.channel == SubjectLimits(tokens_per_day=40)
    assert applied.workspace == policy.workspace
    assert BudgetOverride.model_validate({"user_tokens": "off"}).apply(policy).user.tokens_per_day is None


@pytest.mark.parametrize(
    "budget",
    [
        pytest.param({"user": "-1/1h"}, id="negative-count"),
        pytest.param({"channel": "lots"}, id="unparsable"),
        pytest.param({"user_tokens": -5}, id="negative-tokens"),
        pytest.param({"workspace": "5/1h"}, id="workspace-is-not-a-channels-to-change"),
        pytest.param({"usr": "5/1h"}, id="misspelt-key"),
    ],
)
def test_a_bad_profile_budget_is_refused(budget) -> None:
    with pytest.raises(ValidationError):
        ChannelProfile.model_validate({"budget": budget})


@pytest.mark.parametrize(
    ("now", "seconds", "expected"),
    [
        pytest.param(7200.0, 3600, (7200, 10_800), id="at-a-boundary"),
        pytest.param(7199.9, 3600, (3600, 7200), id="just-before"),
        pytest.param(90_000.0, 86_400, (86_400, 172_800), id="a-utc-day"),
        pytest.param(650.0, 600, (600, 1200), id="ten-minutes"),
    ],
)
def test_windows_are_fixed_and_aligned_to_the_epoch(now, seconds, expected) -> None:
    assert window(now, seconds) == expected


@pytest.mark.parametrize(
    ("seconds", "en", "ja"),
    [
        pytest.param(1, "in 1 minute", "1分後", id="seconds-round-up-to-a-minute"),
        pytest.param(720, "in 12 minutes", "12分後", id="minutes"),
        pytest.param(721, "in 13 minutes", "13分後", id="never-too-early"),
        pytest.param(89 * 60, "in 89 minutes", "89分後", id="under-90-minutes"),
        pytest.param(5 * 3600 - 30, "in about 5 hours", "約5時間後", id="hours"),
        pytest.param(3 * 86_400, "in about 3 days", "約3日後", id="days"),
    ],
)
def test_the_wait_is_said_in_the_askers_terms(seconds, en, ja) -> None:
    assert wait_phrase(seconds, "en") == en and wait_phrase(seconds, "ja") == ja


def test_refusals_say_whose_limit_and_when_in_the_askers_language() -> None:
    assert budget_refusal("user", "questions", 720, "en") == (
        "You have reached your question limit for now. You can ask again in 12 minutes. "
        "Thank you for your patience."
    )
    assert budget_refusal("channel", "questions", 720, "ja") == (
        "このチャンネルの質問数の上限に達しました。12分後にまた質問できます。しばらくお待ちください。"
    )
    assert "usage limit for today" in budget_refusal("workspace", "tokens", 3600, "en")
    assert "本日の回答量" in budget_refusal("workspace", "tokens", 3600, "ja")
    assert budget_refusal("user", "questions", 60, "fr").startswith("You have reached")


def test_a_refusal_is_its_own_emf_document_with_the_subject(capsys, monkeypatch) -> None:
    from kotae.ops import metrics

    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "kotae-bot")
    metrics.budget_exceeded("workspace")
    [doc] = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    directive = doc["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "kotae" and directive["Metrics"] == [
        {"Name": "BudgetExceeded", "Unit": "Count"}
    ]
    assert directive["Dimensions"] == [["service", "subject"]]
    assert (doc["service"], doc["subject"], doc["BudgetExceeded"]) == ("kotae-bot", "workspace", [1.0])


def test_no_refusal_metric_is_printed_when_metrics_are_off(capsys, monkeypatch) -> None:
    from kotae.ops import metrics

    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    metrics.budget_exceeded("user")
    assert '"_aws"' not in capsys.readouterr().out
