"""The default model is current and callable, and kotae says so when a configured one is not
(issue 11, hole 9). Before the fix the Settings default was the legacy Claude 3.5 Haiku."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber

from kotae.providers.bedrock_models import live_warnings, offline_warnings, split_profile
from kotae.settings import Settings

HAIKU_45 = "anthropic.claude-haiku-4-5-20251001-v1:0"


def test_the_default_model_is_current_and_goes_through_a_profile() -> None:
    default = Settings().generation_model_id
    assert split_profile(default) == ("jp", HAIKU_45)
    assert offline_warnings(default, "ap-northeast-1") == []


@pytest.mark.parametrize(
    ("model", "region", "expected"),
    [
        pytest.param("anthropic.claude-3-5-haiku-20241022-v1:0", "us-east-1", "legacy", id="legacy"),
        pytest.param("apac.anthropic.claude-3-5-haiku-20241022-v1:0", "ap-south-1", "legacy", id="legacy-profile"),
        pytest.param(HAIKU_45, "us-east-1", "inference profile", id="bare-id-needs-profile"),
        pytest.param(f"jp.{HAIKU_45}", "us-east-1", "cannot be called from us-east-1", id="wrong-geography"),
        pytest.param(f"eu.{HAIKU_45}", "ap-northeast-1", "cannot be called", id="eu-from-tokyo"),
    ],
)
def test_offline_warnings(model: str, region: str, expected: str) -> None:
    (warning,) = offline_warnings(model, region)
    assert expected in warning


@pytest.mark.parametrize(
    ("model", "region"),
    [(f"global.{HAIKU_45}", "sa-east-1"), (f"us.{HAIKU_45}", "us-west-2"), (f"jp.{HAIKU_45}", "ap-northeast-3"),
     ("amazon.titan-embed-text-v2:0", "eu-west-1"), (f"jp.{HAIKU_45}", None)],
)  # fmt: skip
def test_callable_models_get_no_warning(model: str, region: str | None) -> None:
    assert offline_warnings(model, region) == []


def _bedrock() -> tuple[object, Stubber]:
    client = boto3.client("bedrock", region_name="ap-northeast-1")
    return client, Stubber(client)


def _model(status: str) -> dict:
    return {
        "modelDetails": {
            "modelArn": "arn:aws:bedrock:ap-northeast-1::foundation-model/m",
            "modelId": HAIKU_45,
            "modelLifecycle": {"status": status},
        }
    }


def test_live_check_reads_the_model_lifecycle() -> None:
    client, stub = _bedrock()
    stub.add_response("get_foundation_model", _model("LEGACY"), {"modelIdentifier": HAIKU_45})
    with stub:
        (warning,) = live_warnings(client, HAIKU_45)
    assert "LEGACY" in warning


def test_live_check_of_a_profile_asks_for_the_profile_then_the_model() -> None:
    client, stub = _bedrock()
    profile = {
        "inferenceProfileName": "p", "inferenceProfileArn": "arn:aws:bedrock:ap-northeast-1:1:inference-profile/p",
        "models": [{"modelArn": "arn:aws:bedrock:ap-northeast-1::foundation-model/m"}], "inferenceProfileId": f"jp.{HAIKU_45}", "status": "ACTIVE", "type": "SYSTEM_DEFINED",
    }  # fmt: skip
    stub.add_response("get_inference_profile", profile, {"inferenceProfileIdentifier": f"jp.{HAIKU_45}"})
    stub.add_response("get_foundation_model", _model("ACTIVE"), {"modelIdentifier": HAIKU_45})
    with stub:
        assert live_warnings(client, f"jp.{HAIKU_45}") == []


def test_live_check_reports_an_unknown_model() -> None:
    client, stub = _bedrock()
    stub.add_client_error("get_foundation_model", "ResourceNotFoundException", "model not found")
    with stub:
        (warning,) = live_warnings(client, "anthropic.nope-v1:0")
    assert "model not found" in warning


def test_live_check_reports_an_unreachable_bedrock(monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.exceptions import EndpointConnectionError

    class Down:
        def get_foundation_model(self, **_: object) -> dict:
            raise EndpointConnectionError(endpoint_url="https://bedrock.example")

    (warning,) = live_warnings(Down(), HAIKU_45)
    assert "cannot reach Bedrock" in warning


def test_kotae_doctor_exits_1_with_the_warnings(run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOTAE_AWS_REGION", "us-east-1")
    code, out, _ = run("doctor", "--json")
    report = json.loads(out)
    assert code == 1 and report["models"] == {"generation": f"jp.{HAIKU_45}"}
    assert any("cannot be called from us-east-1" in w for w in report["warnings"])
    monkeypatch.setenv("KOTAE_AWS_REGION", "ap-northeast-1")
    code, out, err = run("doctor")
    assert code == 0 and "ok" in out and "warning" not in err
