"""Nothing in an answer pings anyone or links anywhere but to its cited sources (hole 6).

Checked on every way an answer reaches Slack: the stream (appends and stop), the placeholder's
update, the ephemeral reply, their blocks and fallback text, and the failure replies. On the old
code a Markdown link to any host became a live <url|label>, a streamed <https://…|label> was
sent as is, and a ping split across two stream chunks (``@every`` + ``one``) survived.

``live`` is this test's own model of what Slack (and, for markdown_text, a Markdown renderer)
makes live; it does not use the code under test. A zero-width space between the characters of
a sequence is what stops Slack from seeing it, so it counts as broken here.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.formatting import answer_blocks
from bot.responders import EphemeralResponder, PostThenUpdate, StreamResponder
from kotae.models import Answer, Citation
from tests.fakes import FakeGenerator, FakeSlackClient
from tests.functional.test_bot import bot, deliver, mention, streaming, use_generator  # noqa: F401

Z = "\u200b"
WIKI = "https://wiki.hoshizora.example/it/vpn"
ALLOWED = frozenset({WIKI})
HOSTILE = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<!subteam^S0123|@oncall>",
    "<@U0123ABC>",
    "<#C0123ABC|general>",
    "<https://evil.example/login|VPN guide>",
    "<https://evil.example>",
    "<mailto:evil@evil.example|mail IT>",
    "[guide](https://evil.example/a)",
    "![x](https://evil.example/p.png)",
    "[guide][1]\n\n[1]: https://evil.example/r\n",
    f"[VPN]({WIKI}.evil.example)",  # an allowed URL's prefix is not the allowed URL
    "https://evil.example/path?q=1",
    "HTTPS://EVIL.EXAMPLE",
    "www.evil.example",
    "evil.example/login",
    "taro@evil.example",
    "mailto:evil@evil.example",
    "tel:+81312345678",
    "javascript:alert(1)",
    "@channel",
    "@here",
    "@everyone",
    "@oncall-team",
    "#general",
    "&lt;!channel&gt;",
    "&#64;here",
    "&#x3c;!here&#x3e;",
]
CITED = [f"[VPN guide]({WIKI})", WIKI, f"<{WIKI}|the wiki>"]
BENIGN = [
    "Use GlobalProtect. ",
    "経費精算の締め切りは？",
    "**bold** ",
    "`code` ",
    "a < b & c > d",
    "[S1]",
    "\n",
    " ",
]
hostile_answers = st.lists(
    st.one_of(
        st.sampled_from(HOSTILE + CITED + BENIGN),
        st.text(alphabet="@<>[]()!#&;:./|^ evilhrcanU1", max_size=12),
    ),
    min_size=1,
    max_size=14,
).map("".join)

_ANY = [
    ("broadcast", r"(?i)@(?:channel|here|everyone)\b"),
    ("mention or e-mail", r"@\w"),
    ("channel name", r"(?<![^\s(\[])#\w"),
    ("URL", r"(?i)[a-z][a-z0-9+.-]*:/"),
    ("scheme", r"(?i)(?:mailto|tel|javascript|slack|sms):[^\s\u200b]"),
    ("host name", r"(?i)[a-z0-9-]\.[a-z]{2}"),
    ("Markdown link", r"\][(\[:]"),
]
_MARKDOWN = [
    ("control sequence or autolink", r"<[^\s\u200b]"),
    ("character reference", r"&(?:#[0-9]+|#[xX][0-9A-Fa-f]+|[A-Za-z][A-Za-z0-9]*);"),
]
_SLACK_LINK = re.compile(r"<([^|>]*)(?:\|[^>]*)?>")


def live(text: str, *, allowed: frozenset[str] = frozenset(), markdown: bool = False) -> list[str]:
    """What would be live in this text: pings, control sequences, links. In mrkdwn a <url|label>
    to an allowed URL is expected; everything else is a finding."""
    findings: list[str] = []
    if not markdown:
        for link in _SLACK_LINK.finditer(text):
            if link[1] not in allowed:
                findings.append(f"link {link[0]!r}")
        text = _SLACK_LINK.sub(" ", text)
        findings += [f"control character in {text!r}"] * ("<" in text)
    for name, pattern in _ANY + (_MARKDOWN if markdown else []):
        findings += [f"{name}: {m.group()!r}" for m in re.finditer(pattern, text)]
    return findings


def _mrkdwn_objects(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    objects = [obj for block in blocks for obj in [block.get("text"), *block.get("elements", [])]]
    return [obj for obj in objects if isinstance(obj, dict) and obj.get("type") == "mrkdwn"]


def mrkdwn_texts(blocks: list[dict[str, Any]]) -> list[str]:
    return [obj["text"] for obj in _mrkdwn_objects(blocks)]


def verbatim(blocks: list[dict[str, Any]]) -> bool:
    """Whether Slack is told not to parse any of the blocks' texts automatically."""
    return all(obj.get("verbatim") is True for obj in _mrkdwn_objects(blocks))


def answer(text: str) -> Answer:
    return Answer(
        question="VPN?",
        text=text,
        citations=[Citation(id="S1", key="faq-en-003", title="VPN <!here>", url=WIKI, score=0.9)],
        prompt_task="answer",
        prompt_version="v1",
        model_id="jp.anthropic.claude-sonnet-4-5",
    )


def split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({min(c, len(text)) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in itertools.pairwise(points) if b > a]


def stream_text(args: dict[str, Any]) -> str:
    """The text one stream call shows: its markdown_text, or its markdown_text chunks."""
    chunks = [c["text"] for c in args.get("chunks", []) if c["type"] == "markdown_text"]
    return args.get("markdown_text", "") + "".join(chunks)


def streamed(chunks: list[str], final: Answer) -> tuple[str, list[dict[str, Any]]]:
    """What a stream sends: the appended and final markdown, and the stop's blocks."""
    slack = FakeSlackClient()
    fallback = PostThenUpdate(slack, "C1", "1.0", "…")
    responder = StreamResponder(slack, "C1", "1.0", team_id="T1", user_id="U1", fallback=fallback).start()
    for chunk in chunks:
        responder.append(chunk)
    responder.finish(final, "a1")
    sent = [stream_text(args) for m, args in slack.calls if m != "chat_startStream"]
    return "".join(sent), slack.calls[-1][1]["blocks"]


@settings(max_examples=300, deadline=None)
@given(hostile_answers, st.lists(st.integers(min_value=0, max_value=400), max_size=40))
def test_no_split_of_a_stream_lets_a_ping_or_a_foreign_link_through(text: str, cuts: list[int]) -> None:
    # GIVEN a hostile answer streamed in pieces split anywhere
    markdown, blocks = streamed(split(text, cuts), answer(text))
    # THEN the streamed text has nothing live (it links nowhere), and loses nothing
    assert live(markdown, markdown=True) == []
    assert markdown.replace(Z, "") == text
    # AND the footer links the cited source and nothing else
    for mrkdwn in mrkdwn_texts(blocks):
        assert live(mrkdwn, allowed=ALLOWED) == []
    assert f"<{WIKI}|" in json.dumps(blocks) and verbatim(blocks)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param("hey @every", "one look", id="broadcast"),
        pytest.param("<!chan", "nel>", id="control-sequence"),
        pytest.param("see <https://evil.example/x|the ", "guide>", id="slack-link"),
        pytest.param("[guide]", "(https://evil.example)", id="markdown-link"),
        pytest.param("go to evil", ".example now", id="host-name"),
    ],
)
def test_a_ping_or_link_split_across_two_chunks_is_still_defused(first: str, second: str) -> None:
    # GIVEN the first part fills a stream buffer, so it is sent before the second arrives
    padding = "x" * 130 + " "
    markdown, _ = streamed([padding + first, second], answer(padding + first + second))
    assert live(markdown, markdown=True) == []


def posted(text: str) -> list[tuple[str, list[dict[str, Any]]]]:
    """(fallback text, blocks) of the answer as chat.update and as an ephemeral reply."""
    slack = FakeSlackClient()
    PostThenUpdate(slack, "C1", "1.0", "…").start().finish(answer(text), "a1")
    sent: list[dict[str, Any]] = []
    EphemeralResponder(lambda **message: sent.append(message)).finish(answer(text), "a1")
    update = slack.calls[-1][1]
    return [(update["text"], update["blocks"]), (sent[0]["text"], sent[0]["blocks"])]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_answers)
def test_a_posted_answer_links_only_its_cited_sources(text: str) -> None:
    for fallback, blocks in posted(text):
        assert live(fallback, allowed=ALLOWED) == []
        for mrkdwn in mrkdwn_texts(blocks):
            assert live(mrkdwn, allowed=ALLOWED) == []
        assert verbatim(blocks)


def test_links_to_cited_sources_survive_and_foreign_ones_do_not() -> None:
    text = f"See [VPN guide]({WIKI}) or {WIKI}. Not [guide](https://evil.example/a) <!here>"
    for fallback, blocks in posted(text):
        body = mrkdwn_texts(blocks)[0]
        assert f"<{WIKI}|VPN guide>" in body and body.count(f"<{WIKI}|") == 2
        assert f"<{WIKI}|VPN guide>" in fallback
        assert "evil" in body and live(body, allowed=ALLOWED) == []
    markdown, blocks = streamed([text], answer(text))
    assert f"<{WIKI}|VPN" in json.dumps(blocks) and live(markdown, markdown=True) == []


def test_answer_blocks_mark_every_text_verbatim() -> None:
    blocks = answer_blocks(answer("Ask in #it-help or see vpn.hoshizora.example"), "a1")
    assert verbatim(blocks)
    assert all(live(text, allowed=ALLOWED) == [] for text in mrkdwn_texts(blocks))


@pytest.mark.parametrize(
    "fail",
    [
        pytest.param(lambda slack: PostThenUpdate(slack, "C1", "1.0", "…").start(), id="update"),
        pytest.param(
            lambda slack: StreamResponder(
                slack,
                "C1",
                "1.0",
                team_id="T1",
                user_id="U1",
                fallback=PostThenUpdate(slack, "C1", "1.0", "…"),
            ).start(),
            id="stream",
        ),
    ],
)
def test_failure_replies_are_defused_too(fail) -> None:
    slack = FakeSlackClient()
    fail(slack).fail("Sorry <!channel> @here see https://evil.example (ref abc)")
    reply = slack.calls[-1][1]
    text = reply.get("text") or stream_text(reply)
    assert live(text, markdown="text" not in reply) == [] and "(ref abc)" in text


HOSTILE_ANSWER = (
    "Use GlobalProtect [S1]. <!channel> @everyone <@U0123ABC> <#C0123ABC|general> "
    "<https://evil.example/login|VPN guide> [guide](https://evil.example/a) www.evil.example "
    "@ev" + "ery" + "one and <!he" + "re> " + f"[the wiki]({WIKI})"
)


def test_through_bolt_a_streamed_hostile_answer_is_defused(streaming) -> None:  # noqa: F811
    # GIVEN a model that answers with pings and foreign links (FakeGenerator streams 4 characters at a time)
    slack, lam = streaming
    use_generator(FakeGenerator().enqueue(HOSTILE_ANSWER))
    # WHEN a mention is answered by streaming
    deliver(lam, mention("How do I connect to the VPN from home?", event_id="EvH1"))
    # THEN nothing streamed is live, and the stop's footer links the cited source
    [stop] = slack.called("chat.stopStream")
    text = slack.streamed_text()
    assert "GlobalProtect" in text and live(text, markdown=True) == []
    blocks = json.loads(stop["blocks"]) if isinstance(stop["blocks"], str) else stop["blocks"]
    assert f"<{WIKI}|" in json.dumps(blocks)
    assert [finding for t in mrkdwn_texts(blocks) for finding in live(t, allowed=ALLOWED)] == []
    assert verbatim(blocks)


def test_through_bolt_a_posted_hostile_answer_links_only_its_source(bot) -> None:  # noqa: F811
    slack, lam = bot
    use_generator(FakeGenerator().enqueue(HOSTILE_ANSWER))
    deliver(lam, mention("How do I connect to the VPN from home?", event_id="EvH2"))
    [update] = slack.called("chat.update")
    blocks = json.loads(update["blocks"]) if isinstance(update["blocks"], str) else update["blocks"]
    texts = mrkdwn_texts(blocks)
    assert f"<{WIKI}|the wiki>" in texts[0]
    assert [finding for t in [update["text"], *texts] for finding in live(t, allowed=ALLOWED)] == []
    assert verbatim(blocks)
