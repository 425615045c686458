from __future__ import annotations

import pytest

from bot.formatting import MAX_SECTION, answer_blocks, source_line, to_mrkdwn
from kotae.models import Answer, Citation


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        pytest.param("a & b < c > d", "a &amp; b &lt; c &gt; d", id="escapes"),
        pytest.param("**bold** text", "*bold* text", id="bold"),
        pytest.param("## Heading", "*Heading*", id="heading"),
        pytest.param("see [the wiki](https://wiki/x)", "see <https://wiki/x|the wiki>", id="link"),
        pytest.param("[a|b](https://x)", "<https://x|a¦b>", id="pipe-in-label"),
        pytest.param("hey @channel and @here", "hey @\u200bchannel and @\u200bhere", id="no-ping"),
        pytest.param(
            "<!channel> <@U123> <https://evil|ok>",
            "&lt;!channel&gt; &lt;@U123&gt; &lt;https://evil|ok&gt;",
            id="no-control-sequences",
        ),
        pytest.param("[x](javascript:alert(1))", "[x](javascript:alert(1))", id="only-http-links"),
    ],
)
def test_to_mrkdwn(markdown: str, mrkdwn: str) -> None:
    assert to_mrkdwn(markdown) == mrkdwn


def test_source_line_links_titles_or_shows_the_key() -> None:
    assert (
        source_line("S1", "VPN <guide>", "https://wiki/vpn", "faq-1")
        == "[S1] <https://wiki/vpn|VPN &lt;guide&gt;>"
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
    assert [e["value"] for e in blocks[-1]["elements"]] == ["a-123", "a-123"]
