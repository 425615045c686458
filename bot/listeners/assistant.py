"""The Slack assistant panel: suggested prompts when a thread opens.

https://docs.slack.dev/reference/events/assistant_thread_started
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.runtime import RuntimeSource

SUGGESTED_PROMPTS = [
    {"title": "VPN from home", "message": "How do I connect to the VPN from home?"},
    {"title": "経費精算", "message": "経費精算の締め切りはいつですか？"},
    {"title": "Failed records", "message": "Which records failed in the last normalization run?"},
]


def register(app: Any, runtime: RuntimeSource) -> None:
    def ack_event(ack: Any) -> None:
        ack()

    def suggest(event: dict[str, Any], client: Any) -> None:
        thread = event.get("assistant_thread") or {}
        client.assistant_threads_setSuggestedPrompts(
            channel_id=thread["channel_id"], thread_ts=thread["thread_ts"], prompts=SUGGESTED_PROMPTS
        )

    app.event("assistant_thread_started")(ack=ack_event, lazy=[suggest])
