"""An optional Bedrock reranker: the bot gets its settings, bedrock:Rerank, and InvokeModel on
that one reranker model; without one, nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aws_cdk", reason="needs the infra extra: pip install -e '.[infra]'")

from kotae_infra.config import ContextError, KotaeConfig

from tests.infra.conftest import REGION, as_list, logical_id, nag_findings, render, role_statements, synth

RERANK_ARN = f"arn:aws:bedrock:{REGION}::foundation-model/cohere.rerank-v3-5:0"


def rerank_grants(statements: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Resource -> actions allowed on it, for "*" and reranker model ARNs (CDK may merge a
    statement with another of the same actions, so statements are not compared whole)."""
    grants: dict[str, set[str]] = {}
    for st in statements:
        for resource in (render(r) for r in as_list(st["Resource"])):
            if resource == "*" or "rerank" in resource:
                grants.setdefault(resource, set()).update(as_list(st["Action"]))
    return grants


@pytest.fixture(scope="module")
def reranked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, Any]]:
    stack, _, data = synth({"kotae:rerankModelId": "cohere.rerank-v3-5:0"}, tmp_path_factory.mktemp("rerank"))
    return stack, data


def test_the_bot_may_rerank_with_the_configured_model_only(reranked) -> None:
    stack, data = reranked
    bot = role_statements(data, logical_id(stack, stack.bot.function.role))
    assert rerank_grants(bot) == {RERANK_ARN: {"bedrock:InvokeModel"}, "*": {"bedrock:Rerank"}}
    env = data["Resources"][logical_id(stack, stack.bot.function)]["Properties"]["Environment"]["Variables"]
    assert env["KOTAE_RERANKER"] == "bedrock" and env["KOTAE_RERANK_MODEL_ID"] == "cohere.rerank-v3-5:0"


def test_the_ingest_function_gets_no_rerank_access(reranked) -> None:
    stack, data = reranked
    ingest = role_statements(data, logical_id(stack, stack.ingest.function.role))
    assert "bedrock:Rerank" not in {a for grant in rerank_grants(ingest).values() for a in grant}
    assert RERANK_ARN not in rerank_grants(ingest)
    env = data["Resources"][logical_id(stack, stack.ingest.function)]["Properties"]["Environment"][
        "Variables"
    ]
    assert "KOTAE_RERANKER" not in env


def test_the_rerank_wildcard_is_acknowledged_and_nothing_else_is_new(reranked) -> None:
    stack, _ = reranked
    assert nag_findings(stack) == []


def test_without_a_reranker_nothing_is_granted(tmp_path: Path) -> None:
    stack, _, data = synth({}, tmp_path)
    bot = role_statements(data, logical_id(stack, stack.bot.function.role))
    assert rerank_grants(bot) == {}
    env = data["Resources"][logical_id(stack, stack.bot.function)]["Properties"]["Environment"]["Variables"]
    assert "KOTAE_RERANKER" not in env


@pytest.mark.parametrize(
    "context",
    [
        pytest.param({"kotae:rerankModelId": "amazon.titan-embed-text-v2:0"}, id="not-a-reranker"),
        pytest.param({"kotae:rerankModelId": "cohere.rerank-v3-5"}, id="no-version"),
    ],
)
def test_an_unknown_reranker_model_is_refused(context: dict[str, str]) -> None:
    with pytest.raises(ContextError, match="kotae:rerankModelId"):
        KotaeConfig.from_context(context.get, known=context)


def test_a_reranker_outside_its_regions_is_refused(tmp_path: Path) -> None:
    # Amazon Rerank 1.0 is not offered in us-east-1 (Cohere Rerank 3.5 is).
    context = {"kotae:rerankModelId": "amazon.rerank-v1:0", "kotae:region": "us-east-1"}
    with pytest.raises(ContextError, match="cannot be called in us-east-1"):
        synth(context, tmp_path)
