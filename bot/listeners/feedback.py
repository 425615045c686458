"""👍/👎 on an answer. 👍 is recorded at once; 👎 opens the reason modal (bot/feedback_modal.py),
whose submission records it (bot/listeners/feedback_reason.py).

Answers carry Slack's feedback_buttons (action "feedback", the value "up:<answer id>" or
"down:<answer id>"); answers posted before them carry plain buttons ("feedback_up",
"feedback_down", the value the answer id), and those keep working. The modal is opened in the
ack, because a click's trigger_id is good for three seconds only
(https://docs.slack.dev/interactivity/handling-user-interaction#modal_responses).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

from bot.feedback_modal import FEEDBACK_ACTION, PLAIN_FEEDBACK_ACTIONS, FeedbackTarget, reason_modal

if TYPE_CHECKING:
    from bot.runtime import RuntimeSource


def warn(message: str, **extra: Any) -> None:
    """A warning in the bot's log; Powertools is imported only when there is one (the ack
    imports none of it)."""
    from aws_lambda_powertools import Logger

    Logger(service="kotae-bot", child=True).warning(message, extra=extra)


def clicked(action: dict[str, Any]) -> tuple[str, str]:
    """(up or down, answer id) of a click on either kind of feedback button."""
    value = str(action.get("value", ""))
    if action.get("action_id") in PLAIN_FEEDBACK_ACTIONS:
        return PLAIN_FEEDBACK_ACTIONS[str(action["action_id"])], value[:64]
    choice, _, answer_id = value.partition(":")
    block_id = str(action.get("block_id", ""))
    answer_id = answer_id or block_id.removeprefix("feedback:")
    return ("up" if choice == "up" else "down"), answer_id[:64]


def record_feedback(
    runtime: RuntimeSource,
    answer_id: str,
    value: str,
    *,
    user_id: str | None,
    reason: str | None = None,
    comment: str | None = None,
) -> None:
    """Count the feedback and write its record (S3 or local JSONL)."""
    from kotae.ops import metrics  # imported by the lazy listeners only: the ack needs neither
    from kotae.ops.answer_log import feedback_record

    metrics.feedback(value)
    if value == "down":
        metrics.feedback_reason(reason)
    record = feedback_record(
        answer_id,
        "up" if value == "up" else "down",
        user_id=user_id,
        reason=reason,
        comment=comment,
    )
    runtime().log_sink.write("feedback", record)


def register(app: Any, runtime: RuntimeSource) -> None:
    def ack_click(ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any) -> None:
        ack()
        value, answer_id = clicked(action)
        if value == "up":
            return
        container = body.get("container") or {}
        target = FeedbackTarget(
            answer_id=answer_id or "unknown",
            channel_id=container.get("channel_id"),
            message_ts=container.get("message_ts"),
        )
        try:
            client.views_open(trigger_id=body.get("trigger_id"), view=reason_modal(target))
        except SlackApiError as exc:  # an expired trigger, say: the 👎 is lost, and logged
            warn(
                "could not open the feedback reason modal",
                answer_id=answer_id,
                error=exc.response.get("error"),
            )

    def record(body: dict[str, Any], action: dict[str, Any]) -> None:
        value, answer_id = clicked(action)
        if value == "up":  # a 👎 is recorded when its modal is submitted or closed
            record_feedback(runtime, answer_id, "up", user_id=(body.get("user") or {}).get("id"))

    for action_id in (FEEDBACK_ACTION, *PLAIN_FEEDBACK_ACTIONS):
        app.action(action_id)(ack=ack_click, lazy=[record])
