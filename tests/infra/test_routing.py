"""Model routing in the deployment: both models granted to the bot, least privilege as for the
generation model, the bot's KOTAE_ROUTING variables, and bad routing context refused."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("aws_cdk", reason="needs the infra extra: pip install -e '.[infra]'")

from kotae_infra.config import DEFAULTS, ContextError, KotaeConfig

from tests.infra.conftest import (
    ACCOUNT,
    REGION,
    as_list,
    logical_id,
    nag_findings,
    render,
    role_statements,
    synth,
)

HAIKU = "jp.anthropic.claude-haiku-4-5-20251001-v1:0"
SONNET = "jp.anthropic.claude-sonnet-4-5-20250929-v1:0"
INVOKE = {"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"}


def parse(**overrides: Any) -> KotaeConfig:
    context = {**DEFAULTS, **{f"kotae:{k}": v for k, v in overrides.items()}}
    return KotaeConfig.from_context(context.get, context)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param({"routing": "sometimes"}, "kotae:routing: must be one of off, auto", id="unknown-mode"),
        pytest.param({"strongModelId": "a sonnet"}, "kotae:strongModelId", id="not-a-model-id"),
        pytest.param({"lightModelId": f"{HAIKU},{SONNET}"}, "kotae:lightModelId: must be one", id="two-models"),
        pytest.param({"routing": "auto"}, "kotae:strongModelId: must differ from the light model", id="one-model"),
        pytest.param({"routing": "auto", "lightModelId": SONNET, "strongModelId": SONNET},
                     "must differ", id="same-model-twice"),
    ],
)  # fmt: skip
def test_bad_routing_context_is_refused(overrides: dict[str, Any], expected: str) -> None:
    with pytest.raises(ContextError) as caught:
        parse(**overrides)
    assert expected in str(caught.value)


def test_empty_model_ids_are_the_generation_model() -> None:
    config = parse(routing="auto", strongModelId=SONNET)
    assert config.routing.models(config.generation_model_id) == (HAIKU, SONNET)
    assert parse().routing.environment(HAIKU) == {}  # the default deploys exactly as before


@pytest.fixture(scope="module")
def routed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, Any]]:
    stack, _, data = synth({"kotae:routing": "auto", "kotae:strongModelId": SONNET}, tmp_path_factory.mktemp("route"))
    return stack, data


def claude_grants(statements: list[dict[str, Any]]) -> dict[str, tuple[set[str], Any]]:
    """Claude resource ARN -> (actions, condition)."""
    grants: dict[str, tuple[set[str], Any]] = {}
    for st in statements:
        for resource in (render(r) for r in as_list(st["Resource"])):
            if "claude" in resource:
                actions, _ = grants.get(resource, (set(), None))
                grants[resource] = (actions | set(as_list(st["Action"])), st.get("Condition"))
    return grants


def test_the_bot_may_invoke_the_light_and_the_strong_model_only(routed) -> None:
    stack, data = routed
    bot = role_statements(data, logical_id(stack, stack.bot.function.role))
    grants = claude_grants(bot)
    profiles = {m: f"arn:aws:bedrock:{REGION}:{ACCOUNT}:inference-profile/{m}" for m in (HAIKU, SONNET)}
    foundations = {m: f"arn:aws:bedrock:*::foundation-model/{m.removeprefix('jp.')}" for m in (HAIKU, SONNET)}
    assert set(grants) == set(profiles.values()) | set(foundations.values())
    for model in (HAIKU, SONNET):
        assert grants[profiles[model]][0] == INVOKE
        # the foundation model only through its own profile
        actions, condition = grants[foundations[model]]
        assert actions == INVOKE
        assert condition == {"StringEquals": {"bedrock:InferenceProfileArn": profiles[model]}}


def test_the_bot_is_told_to_route(routed) -> None:
    stack, data = routed
    env = data["Resources"][logical_id(stack, stack.bot.function)]["Properties"]["Environment"]["Variables"]
    assert (env["KOTAE_ROUTING"], env["KOTAE_LIGHT_MODEL_ID"], env["KOTAE_STRONG_MODEL_ID"]) == ("auto", HAIKU, SONNET)
    ingest = data["Resources"][logical_id(stack, stack.ingest.function)]["Properties"]["Environment"]["Variables"]
    assert "KOTAE_ROUTING" not in ingest


def test_the_routed_stack_has_no_new_findings(routed) -> None:
    stack, _ = routed
    assert nag_findings(stack) == []
