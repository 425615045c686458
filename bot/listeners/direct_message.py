"""Direct messages: every human message in a DM is a question, answered in its thread."""

from __future__ import annotations

from typing import Any

from bot.answering import Question, answer_in_thread, clean_question
from bot.runtime import BotRuntime


def register(app: Any, runtime: BotRuntime) -> None:
    def ack_event(ack: Any) -> None:
        ack()

    def answer(body: dict[str, Any], event: dict[str, Any], client: Any) -> None:
        if event.get("channel_type") != "im" or event.get("bot_id") or event.get("subtype"):
            return  # channel messages, edits, joins and bots' own messages are not questions
        question = Question(
            event_id=body.get("event_id") or f"{event.get('channel')}:{event.get('ts')}",
            team_id=body.get("team_id"),
            channel_id=event["channel"],
            user_id=event.get("user"),
            thread_ts=event.get("thread_ts") or event["ts"],
            text=clean_question(event.get("text", "")),
        )
        answer_in_thread(client, runtime, question)

    app.event("message")(ack=ack_event, lazy=[answer])
