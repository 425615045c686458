"""/kotae QUESTION: a private (ephemeral) answer for the person who asked."""

from __future__ import annotations

import uuid
from typing import Any

from bot.answering import failure_reply, record_answer
from bot.formatting import answer_blocks, escape
from bot.runtime import BotRuntime
from kotae.text import detect_language


def register(app: Any, runtime: BotRuntime) -> None:
    def ack_command(ack: Any) -> None:
        ack(response_type="ephemeral", text="Looking that up… / 調べています…")

    def answer(command: dict[str, Any], respond: Any) -> None:
        channel = command.get("channel_id", "")
        try:
            profile = runtime.profiles.for_channel(channel)
            options = profile.ask_options()
            result = runtime.kotae.pipeline.ask(command.get("text", ""), options=options)
        except Exception as exc:  # a visible reply for every failure; detail to the log
            text = failure_reply(exc, detect_language(command.get("text", "")), command=True)
            respond(response_type="ephemeral", replace_original=True, text=text)
            return
        answer_id = uuid.uuid4().hex
        respond(
            response_type="ephemeral",
            replace_original=True,
            text=escape(result.text)[:3000],
            blocks=answer_blocks(result, answer_id),
        )
        record_answer(
            runtime,
            result,
            answer_id,
            team_id=command.get("team_id"),
            channel_id=channel,
            user_id=command.get("user_id"),
        )

    app.command("/kotae")(ack=ack_command, lazy=[answer])
