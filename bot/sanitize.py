"""Text from a model or from indexed content, made safe to show in Slack. Pure functions.

Nothing in an answer may ping anyone or link anywhere except to the sources kotae cited. Slack
makes text live in three ways, and every one is defused here:

* control sequences: ``<!channel>``, ``<!here>``, ``<!everyone>``, ``<!subteam^…>``, ``<@U…>``,
  ``<#C…>``, ``<https://…|label>`` (https://docs.slack.dev/messaging/formatting-message-text);
* automatic parsing: URLs, ``www.`` and bare host names, e-mail addresses, ``@channel`` /
  ``@here`` / ``@everyone``, ``@group`` and ``#channel`` names written plainly;
* Markdown (``markdown_text`` of chat.appendStream): ``[label](url)``, ``[label][ref]`` with
  ``[ref]: url``, ``<scheme:…>`` autolinks, and character references (``&lt;``, ``&#64;``)
  that a Markdown renderer decodes into the characters above.

Each is broken by a zero-width space (U+200B) inserted right after the character that starts it:
after every ``<`` and ``@``; after ``&`` that starts a character reference; after a dot inside a
host name (``evil.​example``: no host, so nothing to auto-link); after the colon of a scheme
(``https:​//``); after ``]`` before ``(``, ``[`` or ``:``; after ``#`` that starts a channel name.
The text reads the same and nothing is lost: removing the inserted spaces gives it back.

Every rule looks at most one visible character ahead, so a stream can be defused piece by piece
(``StreamSanitizer``): it holds back only the last visible character, and the pieces it sends
add up to exactly what ``defuse`` makes of the whole text, however the text was split.

Links to the cited sources survive, and only those: ``segments`` picks out ``[label](url)``,
``<url|label>``, ``<url>`` and bare URLs whose URL is one of the allowed ones (the Answer's
citations); everything else is defused text. A stream is sent before the citations are known,
so it allows no links at all; its sources are linked in the footer when it stops.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from kotae.models import Answer

ZWSP = "\u200b"
_INVISIBLE_CHARS = "\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff"  # format characters
_INVISIBLE = f"[{_INVISIBLE_CHARS}]*"
_TRIGGER = re.compile(
    rf"""
      [<@]                                      # control sequences, mentions, e-mail addresses
    | &(?={_INVISIBLE}[#A-Za-z])                # a character reference: &lt; &#64; &#x3c;
    | (?<=\S)\.(?={_INVISIBLE}[A-Za-z])         # a dot inside a host name: evil.example
    | (?<=\S):(?={_INVISIBLE}[/\\A-Za-z0-9+])   # a scheme: https:// mailto: tel:
    | \](?={_INVISIBLE}[(\[:])                  # a Markdown link, reference or definition
    | (?<![^\s(\[])\#(?={_INVISIBLE}\w)         # a channel name: #general
    """,
    re.VERBOSE,
)
_VISIBLE = re.compile(f"[^{_INVISIBLE_CHARS}]")

_URL = r"https?://[^\s<>\[\]()|]+"
_CANDIDATE = re.compile(
    rf"""
      \[(?P<md_label>[^\[\]\n]{{1,200}})\]\((?P<md_url>{_URL})\)   # [label](url)
    | <(?P<sl_url>{_URL})(?:\|(?P<sl_label>[^<>\n]{{1,200}}))?>    # <url|label> or <url>
    | (?P<bare>{_URL})                                              # a bare URL
    """,
    re.VERBOSE,
)
_TRAILING = ".,;:!?'\"*_~"  # punctuation after a bare URL that belongs to the sentence


@dataclass(frozen=True)
class Link:
    """A link to one of the allowed URLs; ``label`` is plain text (not yet defused)."""

    label: str
    url: str


Segment = str | Link


def defuse(text: str) -> str:
    """The text with every ping, control sequence and auto-link broken (allows no link)."""
    return _insert(text, 0, len(text))


def _insert(text: str, start: int, end: int) -> str:
    """text[start:end] defused, reading text before start and after end as its context."""
    out, at = [], start
    for match in _TRIGGER.finditer(text, start):
        if match.start() >= end:
            break
        out += [text[at : match.end()], ZWSP]
        at = match.end()
    out.append(text[at:end])
    return "".join(out)


def allowed_urls(answer: Answer) -> frozenset[str]:
    """The URLs an answer may link to: those of the sources it cites."""
    return frozenset(c.url for c in answer.citations if c.url and c.url.startswith(("https://", "http://")))


def segments(text: str, allowed: Iterable[str]) -> list[Segment]:
    """The text as plain parts (to be defused) and links to allowed URLs."""
    allowed = frozenset(allowed)
    parts: list[Segment] = []
    at = 0
    for match in _CANDIDATE.finditer(text):
        link, end = _allowed_link(match, allowed)
        if link is None:
            continue
        parts += [text[at : match.start()], link]
        at = end
    parts.append(text[at:])
    return [part for part in parts if part != ""]


def _allowed_link(match: re.Match[str], allowed: frozenset[str]) -> tuple[Link | None, int]:
    """The candidate as a Link if its URL is allowed, and where it ends."""
    if match["md_url"]:
        url, label, end = match["md_url"], match["md_label"], match.end()
    elif match["sl_url"]:
        url, label, end = match["sl_url"], match["sl_label"] or match["sl_url"], match.end()
    else:
        url = match["bare"].rstrip(_TRAILING)
        label, end = url, match.start() + len(url)
    return (Link(label, url) if url in allowed else None), end


class StreamSanitizer:
    """Defuses a text that arrives in pieces. ``feed`` returns what can be sent now; the
    last visible character (and any invisible ones after it) is held back, because whether a
    zero-width space goes after it depends on what comes next. ``finish`` returns the rest.
    The pieces add up to ``defuse(whole text)`` for every way of splitting it."""

    def __init__(self) -> None:
        self._raw = ""
        self._sent = 0

    def feed(self, text: str) -> str:
        self._raw += text
        return self._send(max(self._sent, self._last_visible()))

    def finish(self) -> str:
        return self._send(len(self._raw))

    def _last_visible(self) -> int:
        for index in range(len(self._raw) - 1, self._sent - 1, -1):
            if _VISIBLE.match(self._raw, index):
                return index
        return self._sent

    def _send(self, cut: int) -> str:
        piece = _insert(self._raw, self._sent, cut)
        self._sent = cut
        return piece
