"""/kotae QUESTION: a private (ephemeral) answer for the person who asked."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.middleware import with_channel_profile

if TYPE_CHECKING:
    from bot.middleware import ProfileLookup
    from bot.runtime import RuntimeSource


def register(app: Any, runtime: RuntimeSource) -> None:
    def ack_command(ack: Any) -> None:
        ack(response_type="ephemeral", text="Looking that up… / 調べています…")

    def answer(command: dict[str, Any], respond: Any, channel_profile: ProfileLookup) -> None:
        from bot.answering import answer_privately  # the answering code is the lazy listener's alone
        from bot.questions import Question

        answer_privately(respond, runtime, Question.from_command(command), channel_profile)

    app.command("/kotae", middleware=[with_channel_profile(runtime)])(ack=ack_command, lazy=[answer])
