from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from bot.app import slack_credentials
from kotae.errors import ConfigError


def test_credentials_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-env")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "env-secret")
    assert slack_credentials(None) == ("xoxb-env", "env-secret")


def test_missing_credentials_are_named(monkeypatch) -> None:
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    with pytest.raises(
        ConfigError, match="SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET must be set in the environment"
    ):
        slack_credentials(None)


def test_credentials_from_secrets_manager() -> None:
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="ap-northeast-1")
        client.create_secret(
            Name="kotae/slack",
            SecretString=json.dumps({"SLACK_BOT_TOKEN": "xoxb-sm", "SLACK_SIGNING_SECRET": "sm"}),
        )
        client.create_secret(Name="kotae/partial", SecretString=json.dumps({"SLACK_BOT_TOKEN": "xoxb-sm"}))
        client.create_secret(Name="kotae/text", SecretString="not json")
        assert slack_credentials("kotae/slack") == ("xoxb-sm", "sm")
        with pytest.raises(ConfigError, match="must be set in secret kotae/partial"):
            slack_credentials("kotae/partial")
        with pytest.raises(ConfigError, match="cannot read the Slack secret"):
            slack_credentials("kotae/text")
        with pytest.raises(ConfigError, match="cannot read the Slack secret"):
            slack_credentials("kotae/missing")


def test_the_ack_reads_settings_under_the_names_settings_defines() -> None:
    from bot.app import ACK_SETTINGS, ENV_PREFIX
    from kotae.settings import ENV_PREFIX as SETTINGS_PREFIX
    from kotae.settings import Settings

    assert ENV_PREFIX == SETTINGS_PREFIX
    assert set(ACK_SETTINGS) <= set(Settings.model_fields)


@pytest.mark.parametrize(
    "env",
    [
        pytest.param({}, id="unset"),
        pytest.param({"KOTAE_SLACK_API_URL": "http://127.0.0.1:9/api"}, id="set"),
        pytest.param({"KOTAE_SLACK_API_URL": ""}, id="empty"),
        pytest.param({"kotae_slack_secret_id": "kotae/slack"}, id="lower-case-name"),
    ],
)
def test_the_ack_reads_its_settings_as_settings_would(monkeypatch, env) -> None:
    # GIVEN the ack's settings in the environment in some form
    from bot.app import ACK_SETTINGS, ack_setting
    from kotae.settings import load_settings

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    # THEN the ack's reading means what Settings' reading means ("" and None are both unset)
    for name in ACK_SETTINGS:
        assert ack_setting(name) == (getattr(settings, name) or None)


def test_the_ack_reads_no_other_setting() -> None:
    from bot.app import ack_setting

    with pytest.raises(KeyError, match="not a setting the ack reads"):
        ack_setting("top_k")


def test_the_connection_carries_the_api_url_as_a_base_url(monkeypatch) -> None:
    from bot.app import SlackConnection
    from kotae.settings import load_settings

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-env")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "env-secret")
    monkeypatch.setenv("KOTAE_SLACK_API_URL", "http://127.0.0.1:9/api")
    expected = SlackConnection("xoxb-env", "env-secret", "http://127.0.0.1:9/api/")
    assert SlackConnection.from_environment() == SlackConnection.from_settings(load_settings()) == expected
