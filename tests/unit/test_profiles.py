from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from bot.profiles import ChannelProfiles
from kotae.errors import ConfigError

DOC = {
    "default": {"scopes": ["public"]},
    "channels": {"CHR": {"scopes": ["public", "hr"], "prompt_version": "v2"}},
}


def test_file_profiles_are_reread_when_changed(tmp_path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(DOC))
    profiles = ChannelProfiles(path)
    assert profiles.for_channel("CHR").scopes == ("public", "hr")
    assert profiles.for_channel("D1").scopes == ("public",)
    changed = {"default": {"scopes": ["public", "ops"]}}
    path.write_text(json.dumps(changed))
    import os

    os.utime(path, (1, 2_000_000_000))
    assert profiles.for_channel("CHR").scopes == ("public", "ops")


def test_no_configuration_means_public_only() -> None:
    assert ChannelProfiles(None).for_channel("C1").scopes == ("public",)


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("{", id="not-json"),
        pytest.param('{"default": {"scopes": 3}}', id="bad-shape"),
        pytest.param('{"channels": {"C1": {"model_id": "x y; DROP"}}}', id="bad-model-id"),
    ],
)
def test_bad_files_are_config_errors(tmp_path, content) -> None:
    path = tmp_path / "p.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match="KOTAE_CHANNEL_PROFILES"):
        ChannelProfiles(path).for_channel("C1")


def test_missing_file_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        ChannelProfiles(tmp_path / "nope.json").for_channel("C1")


def test_profiles_from_an_ssm_parameter_without_redeploying() -> None:
    with mock_aws():
        ssm = boto3.client("ssm", region_name="ap-northeast-1")
        ssm.put_parameter(Name="/kotae/profiles", Value=json.dumps(DOC), Type="String")
        ssm.put_parameter(Name="/kotae/broken", Value="{", Type="String")
        profiles = ChannelProfiles(None, "/kotae/profiles", max_age=0)
        assert profiles.for_channel("CHR").prompt_version == "v2"
        ssm.put_parameter(
            Name="/kotae/profiles",
            Value=json.dumps({"default": {"scopes": ["x"]}}),
            Type="String",
            Overwrite=True,
        )
        assert profiles.for_channel("CHR").scopes == ("x",)
        with pytest.raises(ConfigError, match="KOTAE_CHANNEL_PROFILES_PARAMETER=/kotae/broken"):
            ChannelProfiles(None, "/kotae/broken", max_age=0).for_channel("C1")
        with pytest.raises(ConfigError, match="KOTAE_CHANNEL_PROFILES_PARAMETER=/kotae/missing"):
            ChannelProfiles(None, "/kotae/missing", max_age=0).for_channel("C1")
