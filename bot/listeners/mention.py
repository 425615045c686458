"""app_mention: ack at once; the answer runs in a lazy listener (a second Lambda invocation)."""

from __future__ import annotations

from typing import Any

from bot.answering import Question, answer_in_thread, clean_question
from bot.runtime import BotRuntime


def register(app: Any, runtime: BotRuntime) -> None:
    def ack_event(ack: Any) -> None:
        ack()

    def answer(body: dict[str, Any], event: dict[str, Any], client: Any) -> None:
        if event.get("bot_id") or event.get("subtype") == "bot_message":
            return
        question = Question(
            event_id=body.get("event_id") or f"{event.get('channel')}:{event.get('ts')}",
            team_id=body.get("team_id"),
            channel_id=event["channel"],
            user_id=event.get("user"),
            thread_ts=event.get("thread_ts") or event["ts"],
            text=clean_question(event.get("text", "")),
            message_ts=event["ts"],
        )
        answer_in_thread(client, runtime, question)

    app.event("app_mention")(ack=ack_event, lazy=[answer])
