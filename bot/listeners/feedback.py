"""👍/👎 on an answer: recorded against its answer id in the feedback log."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.runtime import RuntimeSource


def register(app: Any, runtime: RuntimeSource) -> None:
    def ack_click(ack: Any) -> None:
        ack()

    def record(body: dict[str, Any], action: dict[str, Any]) -> None:
        from kotae.ops import metrics  # imported by the lazy listener only: the ack needs neither
        from kotae.ops.answer_log import feedback_record

        value = "up" if action.get("action_id") == "feedback_up" else "down"
        user = (body.get("user") or {}).get("id")
        metrics.feedback(value)
        runtime().log_sink.write(
            "feedback", feedback_record(str(action.get("value", ""))[:64], value, user_id=user)
        )

    for action_id in ("feedback_up", "feedback_down"):
        app.action(action_id)(ack=ack_click, lazy=[record])
