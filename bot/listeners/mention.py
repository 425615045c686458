"""app_mention: ack at once; the answer runs in a lazy listener (a second Lambda invocation)."""

from __future__ import annotations

from typing import Any

from bot.answering import Question, answer_in_thread
from bot.runtime import BotRuntime


def register(app: Any, runtime: BotRuntime) -> None:
    def ack_event(ack: Any) -> None:
        ack()

    def answer(body: dict[str, Any], event: dict[str, Any], client: Any) -> None:
        if event.get("bot_id") or event.get("subtype") == "bot_message":
            return
        answer_in_thread(client, runtime, Question.from_event(body, event))

    app.event("app_mention")(ack=ack_event, lazy=[answer])
