"""Messages: every human message in a DM is a question; in a channel, a reply in a thread the
bot already answered is a follow-up, answered without a new mention when the channel's profile
allows it (answer_followups). Messages that mention the bot are left to the app_mention listener."""

from __future__ import annotations

from typing import Any

from bot.answering import Question, answer_in_thread, thread_key
from bot.runtime import BotRuntime


def register(app: Any, runtime: BotRuntime) -> None:
    def ack_event(ack: Any) -> None:
        ack()

    def answer(body: dict[str, Any], event: dict[str, Any], client: Any, context: Any) -> None:
        if event.get("bot_id") or event.get("subtype"):
            return  # edits, joins and bots' own messages are not questions
        if event.get("channel_type") != "im":
            bot_user = context.get("bot_user_id") if context else None
            thread_ts = event.get("thread_ts")
            if (
                not thread_ts
                or (bot_user and f"<@{bot_user}>" in event.get("text", ""))
                or not runtime.profiles.for_channel(event["channel"]).answer_followups
                or not runtime.threads.known(thread_key(event["channel"], thread_ts))
            ):
                return
        answer_in_thread(client, runtime, Question.from_event(body, event))

    app.event("message")(ack=ack_event, lazy=[answer])
