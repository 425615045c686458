"""Budgets people can see: limits on questions and tokens per user, channel and workspace.

``limits`` holds what a budget allows and how it is written (settings, channel profiles);
``base`` the rule (``Budgets.admit`` before answering, ``Budgets.spend`` after); ``sqlite`` and
``dynamodb`` the two places the counters live. README "Budgets" describes the behaviour.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kotae.ops.budgets.base import Asker, Budgets, BudgetUnavailable, Claim, Counters, Refusal
from kotae.ops.budgets.limits import BudgetOverride, BudgetPolicy, QuestionLimit, SubjectLimits

if TYPE_CHECKING:
    from kotae.settings import Settings

__all__ = [
    "Asker",
    "BudgetOverride",
    "BudgetPolicy",
    "BudgetUnavailable",
    "Budgets",
    "Claim",
    "Counters",
    "QuestionLimit",
    "Refusal",
    "SubjectLimits",
    "budgets_for",
    "policy_of",
]


def policy_of(settings: Settings) -> BudgetPolicy:
    """The KOTAE_BUDGET_* settings as a policy (already validated by Settings)."""
    return BudgetPolicy(
        user=SubjectLimits(questions=settings.budget_user, tokens_per_day=settings.budget_user_tokens),
        channel=SubjectLimits(
            questions=settings.budget_channel, tokens_per_day=settings.budget_channel_tokens
        ),
        workspace=SubjectLimits(
            questions=settings.budget_workspace, tokens_per_day=settings.budget_workspace_tokens
        ),
        admins=frozenset(settings.budget_admins),
    )


def budgets_for(settings: Settings) -> Budgets:
    """DynamoDB counters when KOTAE_BUDGET_TABLE is set, else a SQLite file under the data
    directory. Nothing is read or written while no limit applies to a question."""
    counters: Counters
    if settings.budget_table:
        from kotae.aws import client
        from kotae.ops.budgets.dynamodb import DynamoDBCounters

        counters = DynamoDBCounters(client("dynamodb", settings.aws_region), settings.budget_table)
    else:
        from kotae.ops.budgets.sqlite import SQLiteCounters

        counters = SQLiteCounters(settings.data_dir / "budgets.sqlite3")
    return Budgets(policy_of(settings), counters)
