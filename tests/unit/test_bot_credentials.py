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
