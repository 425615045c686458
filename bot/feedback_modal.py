"""The "what went wrong?" modal a 👎 opens, and what its submission says. Pure functions.

A 👎 opens the modal (views.open with the click's trigger_id); its private_metadata carries the
answer id and where the answer is, so the submission, which Slack sends without the message,
can be recorded against it. Submitting records the 👎 with the reason and the comment; closing
the modal (``notify_on_close``) records the 👎 without a reason, so a 👎 is never lost and never
counted twice. https://docs.slack.dev/surfaces/modals
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, get_args

from kotae.errors import InputError

FEEDBACK_ACTION = "feedback"  # the feedback_buttons element's action_id (bot/formatting.py)
PLAIN_FEEDBACK_ACTIONS = {"feedback_up": "up", "feedback_down": "down"}  # before feedback_buttons
CALLBACK_ID = "feedback_reason"
REASON_BLOCK, COMMENT_BLOCK = "reason", "comment"
MAX_COMMENT = 500
Reason = Literal["wrong", "outdated", "not_found", "other"]
REASONS: dict[str, str] = {
    "wrong": "The answer is wrong",
    "outdated": "The answer is out of date",
    "not_found": "It did not find what I was looking for",
    "other": "Something else",
}
NEED_COMMENT = "Please say what was wrong (a few words are enough)."
TOO_LONG = f"Please keep it under {MAX_COMMENT} characters."


@dataclass(frozen=True)
class FeedbackTarget:
    """The answer a 👎 is about, as the modal's private_metadata carries it. (A dataclass, not a
    pydantic model: the modal is opened and checked in the ack, which imports no pydantic.)"""

    answer_id: str
    channel_id: str | None = None
    message_ts: str | None = None

    def metadata(self) -> str:
        fields = {"answer_id": self.answer_id, "channel_id": self.channel_id, "message_ts": self.message_ts}
        return json.dumps({k: v for k, v in fields.items() if v is not None})


@dataclass(frozen=True)
class FeedbackReason:
    """A submitted reason modal."""

    target: FeedbackTarget
    reason: Reason
    comment: str | None = None


class InvalidFeedback(InputError):
    """A reason modal's submission that cannot be recorded (its metadata is not kotae's)."""


def reason_modal(target: FeedbackTarget) -> dict[str, Any]:
    """The modal view: one required choice and an optional comment (at most 500 characters)."""
    options = [
        {"text": {"type": "plain_text", "text": label}, "value": value} for value, label in REASONS.items()
    ]
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "private_metadata": target.metadata(),
        "notify_on_close": True,
        "title": {"type": "plain_text", "text": "What went wrong?"},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "label": {"type": "plain_text", "text": "The answer…"},
                "element": {"type": "radio_buttons", "action_id": REASON_BLOCK, "options": options},
            },
            {
                "type": "input",
                "block_id": COMMENT_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": "Anything to add?"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": COMMENT_BLOCK,
                    "multiline": True,
                    "max_length": MAX_COMMENT,
                },
            },
        ],
    }


def target_of(view: dict[str, Any]) -> FeedbackTarget:
    """The answer a submitted or closed modal is about; InvalidFeedback if it names none."""
    try:
        fields = json.loads(view.get("private_metadata") or "null")
    except ValueError as exc:
        raise InvalidFeedback(f"the feedback modal's metadata is not JSON ({exc})") from exc
    if not isinstance(fields, dict):
        raise InvalidFeedback("the feedback modal carries no answer id")
    answer_id, channel, ts = (fields.get(k) for k in ("answer_id", "channel_id", "message_ts"))
    if not isinstance(answer_id, str) or not 0 < len(answer_id) <= 64:
        raise InvalidFeedback("the feedback modal carries no answer id")
    return FeedbackTarget(answer_id, _short(channel), _short(ts))


def _short(value: Any) -> str | None:
    return value[:32] if isinstance(value, str) and value else None


def submitted(view: dict[str, Any]) -> FeedbackReason | dict[str, str]:
    """The reason from a view_submission's view, or the inline errors to show (block id ->
    message): "other" needs a comment, and a comment may not exceed 500 characters."""
    values = (view.get("state") or {}).get("values") or {}
    chosen = ((values.get(REASON_BLOCK) or {}).get(REASON_BLOCK) or {}).get("selected_option") or {}
    comment = (((values.get(COMMENT_BLOCK) or {}).get(COMMENT_BLOCK) or {}).get("value") or "").strip()
    if len(comment) > MAX_COMMENT:
        return {COMMENT_BLOCK: TOO_LONG}
    if chosen.get("value") not in get_args(Reason):
        return {REASON_BLOCK: "Please choose one."}
    if chosen["value"] == "other" and not comment:
        return {COMMENT_BLOCK: NEED_COMMENT}
    return FeedbackReason(target_of(view), chosen["value"], comment or None)
