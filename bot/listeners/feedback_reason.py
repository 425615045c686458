"""The 👎 reason modal submitted or closed: the 👎 recorded with its reason (or without one).

Validation errors are shown in the modal (``response_action: errors``) and nothing is written
(https://docs.slack.dev/surfaces/modals#displaying_errors). The record is written by the lazy
listener, like every write of the bot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.feedback_modal import CALLBACK_ID, FeedbackReason, InvalidFeedback, submitted, target_of
from bot.listeners.feedback import record_feedback, warn

if TYPE_CHECKING:
    from bot.runtime import RuntimeSource


def _user(body: dict[str, Any]) -> str | None:
    return (body.get("user") or {}).get("id")


def register(app: Any, runtime: RuntimeSource) -> None:
    def check(ack: Any, view: dict[str, Any]) -> None:
        try:
            result = submitted(view)
        except InvalidFeedback as exc:  # not kotae's metadata: close the modal, keep nothing
            warn("feedback modal without an answer", error=str(exc))
            ack()
            return
        if isinstance(result, FeedbackReason):
            ack()
        else:
            ack(response_action="errors", errors=result)

    def record(body: dict[str, Any], view: dict[str, Any]) -> None:
        try:
            result = submitted(view)
        except InvalidFeedback:
            return  # logged by the ack
        if isinstance(result, FeedbackReason):
            record_feedback(
                runtime,
                result.target.answer_id,
                "down",
                user_id=_user(body),
                reason=result.reason,
                comment=result.comment,
            )

    def ack_close(ack: Any) -> None:
        ack()

    def record_closed(body: dict[str, Any], view: dict[str, Any]) -> None:
        try:
            target = target_of(view)
        except InvalidFeedback as exc:
            warn("feedback modal without an answer", error=str(exc))
            return
        record_feedback(runtime, target.answer_id, "down", user_id=_user(body))

    app.view_submission(CALLBACK_ID)(ack=check, lazy=[record])
    app.view_closed(CALLBACK_ID)(ack=ack_close, lazy=[record_closed])
