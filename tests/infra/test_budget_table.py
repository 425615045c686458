"""The budget counters' table and the bot's access to it (kotae/ops/budgets/dynamodb.py)."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("aws_cdk", reason="needs the infra extra: pip install -e '.[infra]'")

from tests.infra.conftest import as_list, logical_id, render, role_statements, statements, synth


@pytest.fixture(scope="module")
def stack_and_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, Any]]:
    stack, _, data = synth({}, tmp_path_factory.mktemp("cdk"))
    return stack, data


def test_the_budget_table_is_on_demand_with_ttl_pitr_and_encryption(stack_and_template) -> None:
    stack, data = stack_and_template
    table = data["Resources"][logical_id(stack, stack.data.budgets)]
    props = table["Properties"]
    assert props["TableName"] == "kotae-budgets"
    assert props["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert props["BillingMode"] == "PAY_PER_REQUEST" and props["SSESpecification"]["SSEEnabled"] is True
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["DeletionPolicy"] == "Delete"  # counters of the last day at most


def test_the_bot_gets_the_table_name(stack_and_template) -> None:
    stack, data = stack_and_template
    env = data["Resources"][logical_id(stack, stack.bot.function)]["Properties"]["Environment"]["Variables"]
    assert render(env["KOTAE_BUDGET_TABLE"]) == f"<{logical_id(stack, stack.data.budgets)}>"
    ingest = data["Resources"][logical_id(stack, stack.ingest.function)]["Properties"]["Environment"]
    assert "KOTAE_BUDGET_TABLE" not in ingest["Variables"]


def test_only_the_bot_may_touch_the_table_and_only_to_count(stack_and_template) -> None:
    stack, data = stack_and_template
    arn = f"<{logical_id(stack, stack.data.budgets)}.Arn>"
    on_table = [
        st for _, st in statements(data) if arn in {render(r) for r in as_list(st.get("Resource", []))}
    ]
    bot = role_statements(data, logical_id(stack, stack.bot.function.role))
    assert on_table and all(st in bot for st in on_table)
    actions = sorted(a for st in on_table for a in as_list(st["Action"]))
    assert actions == ["dynamodb:ConditionCheckItem", "dynamodb:UpdateItem"]
