from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.formatting import MAX_SECTION, answer_blocks, fallback_text, source_line, to_mrkdwn
from bot.sanitize import Link, StreamSanitizer, defuse, segments
from kotae.models import Answer, Citation

Z = "\u200b"  # the zero-width space that defuses a ping or an auto-link (bot/sanitize.py)
WIKI = frozenset({"https://wiki/x", "https://x"})


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        pytest.param("a & b < c > d", f"a &amp; b &lt;{Z} c &gt; d", id="escapes"),
        pytest.param("**bold** text", "*bold* text", id="bold"),
        pytest.param("## Heading", "*Heading*", id="heading"),
        pytest.param("see [the wiki](https://wiki/x)", "see <https://wiki/x|the wiki>", id="cited-link"),
        pytest.param("[a|b](https://x)", "<https://x|a¦b>", id="pipe-in-label"),
        pytest.param(
            "[guide](https://evil.example/a)", f"[guide]{Z}(https:{Z}//evil.{Z}example/a)", id="foreign-link"
        ),
        pytest.param("hey @channel and @here", f"hey @{Z}channel and @{Z}here", id="no-ping"),
        pytest.param(
            "<!channel> <@U123> <https://evil|ok>",
            f"&lt;{Z}!channel&gt; &lt;{Z}@{Z}U123&gt; &lt;{Z}https:{Z}//evil|ok&gt;",
            id="no-control-sequences",
        ),
        pytest.param("[x](javascript:alert(1))", f"[x]{Z}(javascript:{Z}alert(1))", id="only-cited-links"),
    ],
)
def test_to_mrkdwn(markdown: str, mrkdwn: str) -> None:
    assert to_mrkdwn(markdown, WIKI) == mrkdwn


def test_source_line_links_titles_or_shows_the_key() -> None:
    assert (
        source_line("S1", "VPN <guide>", "https://wiki/vpn", "faq-1")
        == f"[S1] <https://wiki/vpn|VPN &lt;{Z}guide&gt;>"
    )
    assert source_line("S2", "Record r-1", None, "record-1") == "[S2] Record r-1 (`record-1`)"
    assert source_line("S3", "T", "ftp://x", "k") == "[S3] T (`k`)"


def test_answer_blocks() -> None:
    answer = Answer(
        question="q",
        text="Use **GlobalProtect** [S1].\n" + "y" * 2000 + "\n" + "x" * 2000,
        citations=[Citation(id="S1", key="faq-1", title="VPN", url="https://wiki/vpn", score=0.9)],
        prompt_task="answer",
        prompt_version="v1",
        model_id="m",
    )
    blocks = answer_blocks(answer, "a-123")
    sections = [b for b in blocks if b["type"] == "section"]
    # a long answer is split at a line end into sections Slack accepts
    assert sections[0]["text"]["text"] == "Use *GlobalProtect* [S1].\n" + "y" * 2000
    assert sections[1]["text"]["text"] == "x" * 2000
    assert all(len(b["text"]["text"]) <= MAX_SECTION for b in sections)
    assert sections[-1]["text"]["text"] == "*Sources*\n[S1] <https://wiki/vpn|VPN>"
    assert blocks[-2]["elements"][0]["text"] == "prompt answer/v1 · model m"
    assert blocks[-1]["block_id"] == "feedback:a-123"
    [buttons] = blocks[-1]["elements"]
    assert (buttons["positive_button"]["value"], buttons["negative_button"]["value"]) == (
        "up:a-123",
        "down:a-123",
    )
    plain = answer_blocks(answer, "a-123", plain_feedback=True)[-1]
    assert [e["value"] for e in plain["elements"]] == ["a-123", "a-123"]


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet="<>@&#.:/[]()!|^ \n\u200dabcxyzhtps", max_size=80),
    st.lists(st.integers(min_value=0, max_value=80), max_size=20),
)
def test_a_stream_defused_piece_by_piece_is_the_text_defused_whole(text: str, cuts: list[int]) -> None:
    # GIVEN a text split anywhere
    points = sorted({min(c, len(text)) for c in cuts} | {0, len(text)})
    sanitizer = StreamSanitizer()
    # WHEN each piece is fed as it comes and the stream then finishes
    sent = "".join(sanitizer.feed(text[a:b]) for a, b in itertools.pairwise(points)) + sanitizer.finish()
    # THEN the pieces add up to the whole text defused, and nothing but zero-width spaces was added
    assert sent == defuse(text)
    assert sent.replace(Z, "") == text.replace(Z, "")


def test_only_links_to_allowed_urls_are_links() -> None:
    text = "[a](https://x) [b](https://y) <https://x|c> https://x."
    assert segments(text, {"https://x"}) == [
        Link("a", "https://x"),
        " [b](https://y) ",
        Link("c", "https://x"),
        " ",
        Link("https://x", "https://x"),
        ".",
    ]


def test_a_long_fallback_text_is_cut_before_a_link_not_inside_it() -> None:
    answer = Answer(
        question="q",
        text="y" * 2990 + " [VPN](https://wiki/vpn) more",
        citations=[Citation(id="S1", key="faq-1", title="VPN", url="https://wiki/vpn", score=0.9)],
        prompt_task="answer",
        prompt_version="v1",
        model_id="m",
    )
    assert fallback_text(answer) == "y" * 2990 + " "
