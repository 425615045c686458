"""Messages: every human message in a DM is a question; in a channel, a reply in a thread the
bot already answered is a follow-up, answered without a new mention when the channel's profile
allows it (answer_followups). Messages that mention the bot are left to the app_mention listener."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.middleware import questions_only, with_channel_profile

if TYPE_CHECKING:
    from bot.middleware import ProfileLookup
    from bot.runtime import RuntimeSource


def is_follow_up(
    event: dict[str, Any], bot_user_id: str | None, channel_profile: ProfileLookup, runtime: RuntimeSource
) -> bool:
    """A reply without the bot's mention, in a thread the bot answered, where the profile allows."""
    from bot.questions import thread_key

    thread_ts = event.get("thread_ts")
    return bool(
        thread_ts
        and not (bot_user_id and f"<@{bot_user_id}>" in event.get("text", ""))
        and channel_profile.get().answer_followups
        and runtime().threads.known(thread_key(event["channel"], thread_ts))
    )


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

        if event.get("channel_type") == "im" or is_follow_up(
            event, context.get("bot_user_id"), channel_profile, runtime
        ):
            question = Question.from_event(body, event)
            answer_in_thread(client, runtime, question, channel_profile, BotIdentity.of(context))

    app.event("message", middleware=[questions_only, with_channel_profile(runtime)])(
        ack=ack_event, lazy=[answer]
    )
