"""An optional Bedrock guardrail: the bot gets its id and version, and ApplyGuardrail on it alone."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("aws_cdk", reason="needs the infra extra: pip install -e '.[infra]'")

from kotae_infra.config import ContextError, KotaeConfig

from tests.infra.conftest import ACCOUNT, REGION, as_list, logical_id, render, role_statements, synth


def test_a_guardrail_reaches_the_bot_with_its_one_permission(tmp_path: Path) -> None:
    stack, _, data = synth({"kotae:guardrailId": "gr7abc", "kotae:guardrailVersion": "3"}, tmp_path)
    bot = data["Resources"][logical_id(stack, stack.bot.function)]["Properties"]["Environment"]["Variables"]
    assert bot["KOTAE_GUARDRAIL_ID"] == "gr7abc" and bot["KOTAE_GUARDRAIL_VERSION"] == "3"
    ingest = data["Resources"][logical_id(stack, stack.ingest.function)]["Properties"]["Environment"]
    assert "KOTAE_GUARDRAIL_ID" not in ingest["Variables"]
    (grant,) = [
        st for st in role_statements(data, logical_id(stack, stack.bot.function.role))
        if "bedrock:ApplyGuardrail" in as_list(st["Action"])
    ]  # fmt: skip
    assert as_list(grant["Action"]) == ["bedrock:ApplyGuardrail"]
    (resource,) = as_list(grant["Resource"])
    assert render(resource).endswith(f":bedrock:{REGION}:{ACCOUNT}:guardrail/gr7abc")


def test_without_a_guardrail_nothing_is_granted(tmp_path: Path) -> None:
    stack, _, data = synth({}, tmp_path)
    bot = role_statements(data, logical_id(stack, stack.bot.function.role))
    assert not [st for st in bot if "bedrock:ApplyGuardrail" in as_list(st["Action"])]


@pytest.mark.parametrize(
    "context",
    [{"kotae:guardrailId": "gr7abc"}, {"kotae:guardrailVersion": "1"},
     {"kotae:guardrailId": "Not An Id", "kotae:guardrailVersion": "1"},
     {"kotae:guardrailId": "gr7abc", "kotae:guardrailVersion": "latest"}],
)  # fmt: skip
def test_a_half_or_malformed_guardrail_is_refused(context: dict[str, str]) -> None:
    with pytest.raises(ContextError, match="guardrail"):
        KotaeConfig.from_context(context.get, known=context)
