"""app_mention: ack at once; the answer runs in a lazy listener (a second Lambda invocation)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.middleware import questions_only, with_channel_profile

if TYPE_CHECKING:
    from bot.middleware import ProfileLookup
    from bot.runtime import RuntimeSource


def register(app: Any, runtime: RuntimeSource) -> None:
    def ack_event(ack: Any) -> None:
        ack()

    def answer(
        body: dict[str, Any],
        event: dict[str, Any],
        client: Any,
        context: Any,
        channel_profile: ProfileLookup,
    ) -> None:
        from bot.answering import answer_in_thread  # the answering code is the lazy listener's alone
        from bot.questions import BotIdentity, Question

        question = Question.from_event(body, event)
        answer_in_thread(client, runtime, question, channel_profile, BotIdentity.of(context))

    app.event("app_mention", middleware=[questions_only, with_channel_profile(runtime)])(
        ack=ack_event, lazy=[answer]
    )
