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

from bot import steps
from bot.formatting import answer_blocks, fallback_text, footer_blocks, plain_reply
from bot.sanitize import StreamSanitizer, defuse
from bot.steps import TaskDisplayMode
from kotae.models import Answer

logger = Logger(service="kotae-bot", child=True)
STREAM_BUFFER = 120  # characters per chat.appendStream call, to stay under rate limits
# What Slack answers when it does not take a message's blocks (here: feedback_buttons, where a
# workspace or client does not have them yet).
BLOCK_ERRORS = frozenset({"invalid_blocks", "invalid_blocks_format"})


def slack_error(exc: SlackApiError) -> str:
    return str(exc.response.get("error"))


class Responder(Protocol):
    def start(self) -> Responder:
        """Show that an answer is coming; returns the responder that carries on the reply
        (itself, or the one it handed over to)."""
        ...

    def append(self, text: str) -> None:
        """More of the answer's text, as the generator produced it."""
        ...

    def finish(self, answer: Answer, answer_id: str, *, escalate: bool = False) -> None:
        """The answer in full, with its sources and feedback buttons (and, for a not-found
        answer where ``escalate``, the "Ask a person" button)."""
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

    def finish(self, answer: Answer, answer_id: str, *, escalate: bool = False) -> None:
        message = {"channel": self._channel, "ts": self._ts, "text": fallback_text(answer)}
        try:
            self._client.chat_update(**message, blocks=answer_blocks(answer, answer_id, escalate=escalate))
        except SlackApiError as exc:
            if slack_error(exc) not in BLOCK_ERRORS:
                raise
            logger.warning(
                "Slack refused the feedback buttons: plain buttons instead", extra={"error": slack_error(exc)}
            )
            self._client.chat_update(
                **message, blocks=answer_blocks(answer, answer_id, plain_feedback=True, escalate=escalate)
            )

    def fail(self, text: str) -> None:
        self._client.chat_update(channel=self._channel, ts=self._ts, text=plain_reply(text))


class StreamResponder:
    """A streamed reply in the thread, to the person who asked (Slack requires the recipient).

    The text is defused as it arrives (bot/sanitize.py), across chunk boundaries, and links
    nowhere: the citations are known only at the end, so the sources are linked in the footer
    that the stop adds, and the streamed text stays the same from the first append to the stop.
    Unless ``task_display_mode`` is "off", kotae's steps are shown as task cards (bot/steps.py)
    sent as chunks with the text. Where Slack refuses the chunks (a workspace or client without
    them), the stream carries on as plain text, and where it refuses the feedback_buttons the
    stop carries plain buttons; each is logged as a warning once per answer.
    """

    def __init__(
        self,
        client: Any,
        channel: str,
        thread_ts: str,
        *,
        team_id: str,
        user_id: str,
        fallback: Responder,
        task_display_mode: TaskDisplayMode = "timeline",
    ) -> None:
        self._client, self._channel, self._thread_ts = client, channel, thread_ts
        self._recipient = {"recipient_team_id": team_id, "recipient_user_id": user_id}
        self._fallback = fallback
        self._mode = task_display_mode
        self._cards = task_display_mode != "off"
        self._writing = False  # the "writing the answer" card has been sent
        self._ts: str | None = None
        self._sanitizer = StreamSanitizer()
        self._pending = ""  # defused, not yet sent
        self._shown = ""  # defused, sent

    def start(self) -> Responder:
        opening = {"channel": self._channel, "thread_ts": self._thread_ts, **self._recipient}
        cards = {**opening, "chunks": steps.started(self._mode), "task_display_mode": self._mode}
        try:
            started = self._send("chat_startStream", opening, cards)
        except SlackApiError as exc:  # streaming off for this workspace or channel: post, then update
            logger.info("streaming not available here", extra={"error": slack_error(exc)})
            return self._fallback.start()
        self._ts = str(started["ts"])
        return self

    def append(self, text: str) -> None:
        self._pending += self._sanitizer.feed(text)
        if len(self._pending) >= STREAM_BUFFER:
            where = {"channel": self._channel, "ts": self._ts}
            opening = [] if self._writing else steps.writing()
            self._send(
                "chat_appendStream",
                {**where, "markdown_text": self._pending},
                {**where, "chunks": [*opening, steps.text(self._pending)]},
            )
            self._writing = self._cards
            self._shown += self._pending
            self._pending = ""

    def finish(self, answer: Answer, answer_id: str, *, escalate: bool = False) -> None:
        tail = self._tail(answer)
        chunks = steps.finished(answer, wrote=self._writing or bool(tail and answer.found))
        try:
            self._stop(tail, chunks, footer_blocks(answer, answer_id, escalate=escalate))
        except SlackApiError as exc:
            if slack_error(exc) not in BLOCK_ERRORS:
                raise
            logger.warning(
                "Slack refused the feedback buttons: plain buttons instead", extra={"error": slack_error(exc)}
            )
            self._stop(tail, chunks, footer_blocks(answer, answer_id, plain_feedback=True, escalate=escalate))

    def _tail(self, answer: Answer) -> str | None:
        """What the stop adds to the text: the rest of an answer; for a refusal, its message, or
        what is left of it when the answerer streamed the message itself (the extractive one
        does; a model's refusal marker is held back by the pipeline, so nothing was shown)."""
        if answer.found:
            return self._pending + self._sanitizer.finish() or None
        refusal = defuse(answer.text)
        return refusal[len(self._shown) :] if refusal.startswith(self._shown) else refusal

    def fail(self, text: str) -> None:
        message = "\n\n" + defuse(text)
        self._stop(message, steps.failed(wrote=self._writing), None)

    def _stop(
        self, tail: str | None, chunks: list[dict[str, Any]], blocks: list[dict[str, Any]] | None
    ) -> None:
        where: dict[str, Any] = {"channel": self._channel, "ts": self._ts}
        if blocks is not None:
            where["blocks"] = blocks
        plain = {**where, "markdown_text": tail} if tail else where
        self._send(
            "chat_stopStream", plain, {**where, "chunks": chunks + ([steps.text(tail)] if tail else [])}
        )

    def _send(self, method: str, plain: dict[str, Any], cards: dict[str, Any]) -> Any:
        """One stream call, with the task cards while Slack takes them, else without. A refusal
        of the blocks themselves is not about the cards: it is raised for the caller."""
        call = getattr(self._client, method)
        if self._cards:
            try:
                return call(**cards)
            except SlackApiError as exc:
                if slack_error(exc) in BLOCK_ERRORS:
                    raise
                logger.warning(
                    "Slack refused the task cards: streaming text only", extra={"error": slack_error(exc)}
                )
                self._cards = False
        return call(**plain)


class EphemeralResponder:
    """A private reply that replaces the command's "Looking that up…" acknowledgement."""

    def __init__(self, respond: Any) -> None:
        self._respond = respond

    def start(self) -> Responder:
        return self  # the ack already told the person

    def append(self, text: str) -> None:
        return  # a response_url message is sent whole

    def finish(self, answer: Answer, answer_id: str, *, escalate: bool = False) -> None:
        # A private answer has no thread for people to answer in: no "Ask a person" here.
        message = {"response_type": "ephemeral", "replace_original": True, "text": fallback_text(answer)}
        sent = self._respond(**message, blocks=answer_blocks(answer, answer_id))
        if getattr(sent, "status_code", 200) >= 400:  # a response_url says no with an HTTP status
            logger.warning(
                "Slack refused the feedback buttons: plain buttons instead",
                extra={"status": sent.status_code},
            )
            self._respond(**message, blocks=answer_blocks(answer, answer_id, plain_feedback=True))

    def fail(self, text: str) -> None:
        self._respond(response_type="ephemeral", replace_original=True, text=plain_reply(text))
