"""/kotae QUESTION: a private (ephemeral) answer for the person who asked."""

from __future__ import annotations

import uuid
from typing import Any

from aws_lambda_powertools import Logger

from bot.runtime import BotRuntime
from kotae.answer_log import answer_record
from kotae.errors import KotaeError, new_reference
from kotae.pipeline import AskOptions
from kotae.slack_format import answer_blocks, escape

logger = Logger(service="kotae-bot", child=True)


def register(app: Any, runtime: BotRuntime) -> None:
    def ack_command(ack: Any) -> None:
        ack(response_type="ephemeral", text="Looking that up… / 調べています…")

    def answer(command: dict[str, Any], respond: Any) -> None:
        channel = command.get("channel_id", "")
        try:
            profile = runtime.profiles.for_channel(channel)
            options = AskOptions(
                scopes=profile.scopes, prompt_task=profile.prompt_task, prompt_version=profile.prompt_version
            )
            result = runtime.kotae.pipeline.ask(command.get("text", ""), options=options)
        except Exception as exc:  # a visible reply for every failure; detail to the log
            reference = exc.reference if isinstance(exc, KotaeError) else new_reference()
            message = exc.user_message if isinstance(exc, KotaeError) else KotaeError.user_message
            logger.exception("slash command failed", extra={"reference": reference})
            respond(
                response_type="ephemeral", replace_original=True, text=escape(f"{message} (ref {reference})")
            )
            return
        answer_id = uuid.uuid4().hex
        respond(
            response_type="ephemeral",
            replace_original=True,
            text=escape(result.text)[:3000],
            blocks=answer_blocks(result, answer_id),
        )
        runtime.log_sink.write(
            "answers",
            answer_record(
                result,
                answer_id=answer_id,
                outcome="answered" if result.found else "not_found",
                team_id=command.get("team_id"),
                channel_id=channel,
                user_id=command.get("user_id"),
            ),
        )

    app.command("/kotae")(ack=ack_command, lazy=[answer])
