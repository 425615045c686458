"""Budgets in the answer flow: admit a question before anything reaches the model, and count
the tokens its answer used afterwards (kotae.ops.budgets; README "Budgets").

The check runs inside the once-per-event part of answering, so a Slack retry of the same
event is neither counted again nor refused again. A refusal is a reply like an error's (in the
thread, or privately for /kotae), but not an error: the event is done, no AnswerErrors is
counted, and ``BudgetExceeded`` is, with the subject whose limit was reached.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from kotae.errors import KotaeError
from kotae.messages import budget_refusal
from kotae.ops import metrics
from kotae.ops.budgets import Asker

if TYPE_CHECKING:
    from bot.profiles import ChannelProfile
    from bot.questions import Question
    from bot.runtime import BotRuntime
    from kotae.models import Answer

logger = Logger(service="kotae-bot", child=True)


def asker_of(question: Question) -> Asker:
    return Asker(team_id=question.team_id, channel_id=question.channel_id, user_id=question.user_id)


def refusal_text(runtime: BotRuntime, question: Question, profile: ChannelProfile, lang: str) -> str | None:
    """None when the question may be answered (it has taken its places in the budgets), else
    the polite reply saying when the person can ask again. The question is checked first, so
    an empty or oversized one is refused as such and uses no budget. Raises BudgetUnavailable
    when the counters cannot be reached: the question is then not answered (fail closed)."""
    if runtime.budgets is None:
        return None
    runtime.kotae.pipeline.validate(question.text)
    refusal = runtime.budgets.admit(asker_of(question), profile.budget)
    if refusal is None:
        return None
    metrics.budget_exceeded(refusal.subject)
    logger.info(
        "question over budget",
        extra={"subject": refusal.subject, "kind": refusal.kind, "retry_at": refusal.retry_at},
    )
    return budget_refusal(refusal.subject, refusal.kind, refusal.wait_seconds(runtime.budgets.clock()), lang)


def spend(runtime: BotRuntime, question: Question, profile: ChannelProfile, answer: Answer) -> None:
    """Add the answer's tokens to the day's totals. A failure is logged, not raised: the person
    has the answer, and the totals are at worst a little low."""
    if runtime.budgets is None:
        return
    tokens = answer.usage.input_tokens + answer.usage.output_tokens
    try:
        runtime.budgets.spend(asker_of(question), tokens, profile.budget)
    except KotaeError:
        logger.exception("budget tokens not recorded", extra={"tokens": tokens})
