"""Where an answer goes while it is produced: one interface, three ways to reply.

The answer flow (bot/answering.py) is the same for mentions, DMs and /kotae; only the responder
differs. It is started before answering, given the answer's text as it is generated, and then
finishes with the answer (sources, feedback buttons) or fails with a safe message.

* ``StreamResponder``: chat.startStream, chat.appendStream, chat.stopStream; the answer appears
  as it is written (https://docs.slack.dev/reference/methods/chat.startStream). Where Slack
  refuses a stream it hands over to its fallback when started.
* ``PostThenUpdate``: a placeholder (chat.postMessage), replaced by the answer (chat.update).
* ``EphemeralResponder``: /kotae through the command's response_url (Bolt's ``respond``); the
  ack already said "Looking that up…", so nothing is sent at the start and nothing streamed.
"""

from __future__ import annotations

from typing import Any, Protocol

from aws_lambda_powertools import Logger
from slack_sdk.errors import SlackApiError

from bot.formatting import answer_blocks, fallback_text, footer_blocks, plain_reply
from bot.sanitize import StreamSanitizer, defuse
from kotae.models import Answer

logger = Logger(service="kotae-bot", child=True)
STREAM_BUFFER = 120  # characters per chat.appendStream call, to stay under rate limits


class Responder(Protocol):
    def start(self) -> Responder:
        """Show that an answer is coming; returns the responder that carries on the reply
        (itself, or the one it handed over to)."""
        ...

    def append(self, text: str) -> None:
        """More of the answer's text, as the generator produced it."""
        ...

    def finish(self, answer: Answer, answer_id: str) -> None:
        """The answer in full, with its sources and feedback buttons."""
        ...

    def fail(self, text: str) -> None:
        """End the reply with this failure message (plain text: the responder makes it safe)."""
        ...


class PostThenUpdate:
    """A placeholder in the thread, replaced by the answer or the failure."""

    def __init__(self, client: Any, channel: str, thread_ts: str, placeholder: str) -> None:
        self._client, self._channel, self._thread_ts = client, channel, thread_ts
        self._placeholder = placeholder
        self._ts: str | None = None

    def start(self) -> Responder:
        posted = self._client.chat_postMessage(
            channel=self._channel, thread_ts=self._thread_ts, text=self._placeholder
        )
        self._ts = posted["ts"]
        return self

    def append(self, text: str) -> None:
        return  # the update carries the whole answer

    def finish(self, answer: Answer, answer_id: str) -> None:
        self._client.chat_update(
            channel=self._channel,
            ts=self._ts,
            text=fallback_text(answer),
            blocks=answer_blocks(answer, answer_id),
        )

    def fail(self, text: str) -> None:
        self._client.chat_update(channel=self._channel, ts=self._ts, text=plain_reply(text))


class StreamResponder:
    """A streamed reply in the thread, to the person who asked (Slack requires the recipient).

    The text is defused as it arrives (bot/sanitize.py), across chunk boundaries, and links
    nowhere: the citations are known only at the end, so the sources are linked in the footer
    that the stop adds, and the streamed text stays the same from the first append to the stop.
    """

    def __init__(
        self, client: Any, channel: str, thread_ts: str, *, team_id: str, user_id: str, fallback: Responder
    ) -> None:
        self._client, self._channel, self._thread_ts = client, channel, thread_ts
        self._recipient = {"recipient_team_id": team_id, "recipient_user_id": user_id}
        self._fallback = fallback
        self._ts: str | None = None
        self._sanitizer = StreamSanitizer()
        self._pending = ""  # defused, not yet sent

    def start(self) -> Responder:
        try:
            started = self._client.chat_startStream(
                channel=self._channel, thread_ts=self._thread_ts, **self._recipient
            )
        except SlackApiError as exc:  # streaming off for this workspace or channel: post, then update
            logger.info("streaming not available here", extra={"error": str(exc.response.get("error"))})
            return self._fallback.start()
        self._ts = str(started["ts"])
        return self

    def append(self, text: str) -> None:
        self._pending += self._sanitizer.feed(text)
        if len(self._pending) >= STREAM_BUFFER:
            self._client.chat_appendStream(channel=self._channel, ts=self._ts, markdown_text=self._pending)
            self._pending = ""

    def finish(self, answer: Answer, answer_id: str) -> None:
        rest = self._pending + self._sanitizer.finish() if answer.found else ""
        # A refusal streams nothing (the pipeline holds the marker back): send its message now.
        tail = rest or (None if answer.found else defuse(answer.text))
        stop: dict[str, Any] = {"blocks": footer_blocks(answer, answer_id)}
        if tail:
            stop["markdown_text"] = tail
        self._client.chat_stopStream(channel=self._channel, ts=self._ts, **stop)

    def fail(self, text: str) -> None:
        self._client.chat_stopStream(channel=self._channel, ts=self._ts, markdown_text="\n\n" + defuse(text))


class EphemeralResponder:
    """A private reply that replaces the command's "Looking that up…" acknowledgement."""

    def __init__(self, respond: Any) -> None:
        self._respond = respond

    def start(self) -> Responder:
        return self  # the ack already told the person

    def append(self, text: str) -> None:
        return  # a response_url message is sent whole

    def finish(self, answer: Answer, answer_id: str) -> None:
        self._respond(
            response_type="ephemeral",
            replace_original=True,
            text=fallback_text(answer),
            blocks=answer_blocks(answer, answer_id),
        )

    def fail(self, text: str) -> None:
        self._respond(response_type="ephemeral", replace_original=True, text=plain_reply(text))
