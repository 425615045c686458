"""The "Save as FAQ" modal: the views it shows, what its submission says, the item it becomes.
Pure functions (no pydantic: the submission is checked in the ack).

The message shortcut's ack opens a loading modal (a shortcut's trigger_id is good for three
seconds: https://docs.slack.dev/interactivity/handling-user-interaction#modal_responses); the
lazy listener then replaces it with the form or a notice. It replaces it by ``external_id``,
made from the trigger id: the lazy invocation never sees the ack's views.open response, so it
has neither the view id nor its hash, and an external id is unique per workspace
(https://docs.slack.dev/reference/methods/views.update). The form's private_metadata (at most
3,000 characters: https://docs.slack.dev/reference/views/modal-views) carries where the answer
came from and what the form allows (the scopes, the question's length), so the ack can check a
submission without the runtime. Errors are shown inline and nothing is written
(https://docs.slack.dev/surfaces/modals#displaying_errors).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from bot.escalation import Origin
from kotae.errors import InputError

CALLBACK_ID = "save_faq"  # the message shortcut's and the modal's callback_id
OPEN_ACTION = "open_save_faq"  # App Home's buttons open the same modal
QUESTION, ANSWER, LANG, TAGS, URL, SCOPES = "question", "answer", "lang", "tags", "url", "scopes"
# A plain-text input takes up to 3,000 characters, and an answer that long still fits one
# section block when kotae quotes it (bot/formatting.py MAX_SECTION).
MAX_TEXT = 3000
MAX_TAGS, MAX_TAG = 20, 50
MAX_URL = 2000
MAX_METADATA = 3000
MAX_OPTIONS = 100  # options of a select menu
LANGS = {"ja": "日本語", "en": "English"}
_URL = re.compile(r"https?://[^\s/?#]+\.[^\s/?#]+(?:[/?#]\S*)?", re.IGNORECASE)
_TAG_SPLIT = re.compile(r"[,、，]")


class InvalidSave(InputError):
    """A submission whose private_metadata is not the form kotae built."""


@dataclass(frozen=True)
class Source:
    """Where the saved answer comes from and what the form allows: the form's private_metadata."""

    scopes: tuple[str, ...]  # the scopes the person may give the item
    max_question: int = MAX_TEXT
    channel: str | None = None
    message_ts: str | None = None
    thread_ts: str | None = None
    permalink: str | None = None
    answer_id: str | None = None  # the not-found answer this saves an answer for
    origin: Origin | None = None  # the escalated question's thread, to be told

    def metadata(self) -> str:
        fields = {k: v for k, v in asdict(self).items() if v is not None}
        text = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
        if len(text) > MAX_METADATA and self.permalink:  # never seen: Slack's links are short
            return Source(**{**self.__dict__, "permalink": None}).metadata()
        return text

    @classmethod
    def of(cls, text: Any) -> Source:
        try:
            fields = json.loads(text) if isinstance(text, str) else None
            if not isinstance(fields, dict):
                raise InvalidSave("the Save as FAQ modal carries no metadata")
            origin = fields.pop("origin", None)
            source = cls(**{**fields, "scopes": tuple(fields.get("scopes") or ())})
            return source if origin is None else Source(**{**source.__dict__, "origin": Origin(**origin)})
        except (ValueError, TypeError) as exc:
            raise InvalidSave(f"the Save as FAQ modal's metadata is not kotae's ({exc})") from exc

    @property
    def thread(self) -> str | None:
        """The thread to confirm the save in."""
        return self.thread_ts or self.message_ts


@dataclass(frozen=True)
class Prefill:
    """What the form shows at first."""

    question: str
    answer: str = ""
    lang: str = "en"
    scopes: tuple[str, ...] = ()  # chosen at first


@dataclass(frozen=True)
class Draft:
    """A submission that can be saved."""

    source: Source
    question: str
    answer: str
    lang: str
    tags: tuple[str, ...] = ()
    url: str | None = None
    scopes: tuple[str, ...] = field(default_factory=tuple)


def external_id(trigger_id: Any) -> str:
    return f"{CALLBACK_ID}:{trigger_id}"[:255]


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def loading_view(trigger_id: Any) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "external_id": external_id(trigger_id),
        "title": _plain("Save as FAQ"),
        "close": _plain("Cancel"),
        "blocks": [{"type": "section", "text": _plain("Reading the thread…")}],
    }


def notice_view(text: str) -> dict[str, Any]:
    """The modal with a message and no form (a person who may not save, a thread kotae
    cannot read)."""
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "title": _plain("Save as FAQ"),
        "close": _plain("Close"),
        "blocks": [{"type": "section", "text": _plain(text[:MAX_TEXT])}],
    }


def _text_input(block_id: str, label: str, value: str, limit: int, *, multiline: bool) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": block_id,
        "multiline": multiline,
        "max_length": limit,
    }
    if value:
        element["initial_value"] = value[:limit]
    return {"type": "input", "block_id": block_id, "label": _plain(label), "element": element}


def _option(value: str, label: str | None = None) -> dict[str, Any]:
    return {"text": _plain((label or value)[:75]), "value": value[:150]}


def form_view(prefill: Prefill, source: Source) -> dict[str, Any]:
    """The form, prefilled; the scopes offered are only those the person may give."""
    lang = prefill.lang if prefill.lang in LANGS else "en"
    offered = list(source.scopes[:MAX_OPTIONS])
    chosen = [s for s in prefill.scopes if s in offered] or offered[:1]
    blocks = [
        _text_input(QUESTION, "Question", prefill.question, source.max_question, multiline=True),
        _text_input(ANSWER, "Answer", prefill.answer, MAX_TEXT, multiline=True),
        {
            "type": "input",
            "block_id": LANG,
            "label": _plain("Language"),
            "element": {
                "type": "static_select",
                "action_id": LANG,
                "options": [_option(k, v) for k, v in LANGS.items()],
                "initial_option": _option(lang, LANGS[lang]),
            },
        },
        {**_text_input(TAGS, "Tags (comma-separated)", "", 1000, multiline=False), "optional": True},
        {
            "type": "input",
            "block_id": URL,
            "optional": True,
            "label": _plain("Link to more (optional)"),
            "element": {"type": "url_text_input", "action_id": URL},
        },
        {
            "type": "input",
            "block_id": SCOPES,
            "label": _plain("Who may see it"),
            "element": {
                "type": "multi_static_select",
                "action_id": SCOPES,
                "options": [_option(s) for s in offered],
                "initial_options": [_option(s) for s in chosen],
            },
        },
    ]
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "private_metadata": source.metadata(),
        "title": _plain("Save as FAQ"),
        "submit": _plain("Save"),
        "close": _plain("Cancel"),
        "blocks": blocks,
    }


def _value(values: dict[str, Any], block_id: str) -> dict[str, Any]:
    return (values.get(block_id) or {}).get(block_id) or {}


def _check_text(text: str, block_id: str, what: str, limit: int, errors: dict[str, str]) -> None:
    if not text:
        errors[block_id] = f"Please write the {what}."
    elif len(text) > limit:
        errors[block_id] = f"Please keep the {what} under {limit:,} characters (it has {len(text):,})."


def _tags(text: str, errors: dict[str, str]) -> tuple[str, ...]:
    tags = tuple(dict.fromkeys(t.strip() for t in _TAG_SPLIT.split(text) if t.strip()))
    if len(tags) > MAX_TAGS:
        errors[TAGS] = f"Please give at most {MAX_TAGS} tags."
    elif any(len(t) > MAX_TAG for t in tags):
        errors[TAGS] = f"Please keep each tag under {MAX_TAG} characters."
    return tags


def submitted(view: dict[str, Any]) -> Draft | dict[str, str]:
    """The draft to save, or the inline errors to show (block id -> message). InvalidSave for
    metadata kotae did not write."""
    source = Source.of(view.get("private_metadata"))
    values = (view.get("state") or {}).get("values") or {}
    errors: dict[str, str] = {}
    question = str(_value(values, QUESTION).get("value") or "").strip()
    answer = str(_value(values, ANSWER).get("value") or "").strip()
    _check_text(question, QUESTION, "question", source.max_question, errors)
    _check_text(answer, ANSWER, "answer", MAX_TEXT, errors)
    lang = (_value(values, LANG).get("selected_option") or {}).get("value")
    if lang not in LANGS:
        errors[LANG] = "Please choose a language."
    tags = _tags(str(_value(values, TAGS).get("value") or ""), errors)
    url = str(_value(values, URL).get("value") or "").strip() or None
    if url is not None and (len(url) > MAX_URL or not _URL.fullmatch(url)):
        errors[URL] = "Please give a web address that starts with https:// (or leave it empty)."
    chosen = [str(o.get("value")) for o in _value(values, SCOPES).get("selected_options") or []]
    refused = [s for s in chosen if s not in source.scopes]
    if not chosen:
        errors[SCOPES] = "Please choose who may see it."
    elif refused:
        errors[SCOPES] = f"You may not make it visible to: {', '.join(refused)[:200]}."
    if errors:
        return errors
    return Draft(source, question, answer, str(lang), tags, url, tuple(dict.fromkeys(chosen)))


def item_key(source: Source, fallback: str) -> str:
    """A key that is the same each time the same message (or not-found answer) is saved, so a
    second save is refused rather than a duplicate made; ``fallback`` (unique) otherwise."""
    if source.channel and source.message_ts:
        return f"faq-slack-{source.channel}-{source.message_ts.replace('.', '')}"
    return f"faq-slack-{source.answer_id or fallback}"


def item_fields(draft: Draft, *, user_id: str, now: str) -> dict[str, Any]:
    """The FAQ item's fields (kotae.indexing.knowledge_writer adds the key and the kind)."""
    fields: dict[str, Any] = {
        "lang": draft.lang,
        "question": draft.question,
        "answer": draft.answer,
        "tags": list(draft.tags),
        "scopes": list(draft.scopes),
        "created_by": user_id,
        "created_at": now,
        "updated_at": now,
    }
    saved_for = draft.source.origin.answer_id if draft.source.origin else draft.source.answer_id
    optional = {
        "url": draft.url,
        "source_permalink": draft.source.permalink,
        "saved_for_answer_id": saved_for,
    }
    return {**fields, **{k: v for k, v in optional.items() if v}}


_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]*))?>")
_SPECIAL = re.compile(r"<([@#!])([A-Za-z0-9^]+)(?:\|([^>]*))?>")


def slack_text(text: str) -> str:
    """A Slack message's text as plain text for the knowledge: links as "label (url)",
    mentions as @name, and Slack's escapes undone."""

    def link(match: re.Match[str]) -> str:
        url, label = match.group(1), match.group(2)
        return f"{label} ({url})" if label and label != url else url

    def special(match: re.Match[str]) -> str:
        sigil, name, label = match.groups()
        shown = (label or name.split("^")[-1]).lstrip("@#")
        return ("#" if sigil == "#" else "@") + shown

    plain = _SPECIAL.sub(special, _LINK.sub(link, text))
    return plain.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()
