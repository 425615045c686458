"""The Home tab views (bot/home.py): figures shown as Block Kit that slack_sdk's models accept,
log text that pings nobody, and Slack's limits kept."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot import home
from kotae.ops.home_figures import DownVote, HomeFigures, NotFoundCluster, VersionFeedback, WindowFigures

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
WEEK = WindowFigures(7, 6, 2, 4, 0, (VersionFeedback("answer", "v1", 4, 1, 2),))
MONTH = WindowFigures(
    30, 9, 3, 5, 1, (VersionFeedback("answer", "v1", 5, 1, 2), VersionFeedback("answer", "v2", 4, 1, 1))
)
CLUSTER = NotFoundCluster(2, 2, "VPNの設定方法は？", "a2", "2026-12-01T12:00:00+00:00")
DOWN = DownVote("a5", "2026-12-01T12:00:00+00:00", "Expenses deadline?", "other", "<!channel> hi", "v2")


def figures(**changes) -> HomeFigures:
    fields = {
        "now": NOW,
        "windows": (WEEK, MONTH),
        "clusters": (CLUSTER,),
        "latest_down": (DOWN,),
        **changes,
    }
    return HomeFigures(**fields)


def valid(view: dict) -> dict:
    """The view, accepted unchanged by slack_sdk's View model and each block by Block.parse."""
    assert View(**view).to_dict() == view
    for block in view["blocks"]:
        assert Block.parse(block).to_dict() == block, block
    assert len(view["blocks"]) <= 100
    return view


def texts(view: dict) -> str:
    out = []
    for block in view["blocks"]:
        out.append(block.get("text", {}).get("text", ""))
        out += [f["text"] for f in block.get("fields", [])]
        out += [e.get("text", "") for e in block.get("elements", [])]
    return "\n".join(out)


def buttons(view: dict) -> list[dict]:
    return [b["accessory"] for b in view["blocks"] if "accessory" in b]


def test_the_dashboard_shows_both_windows_versions_and_the_two_lists() -> None:
    view = valid(home.dashboard(figures()))
    week = next(b for b in view["blocks"] if b.get("block_id") == "home:window:7")
    assert [f["text"] for f in week["fields"]] == [
        "*Questions*\n6",
        "*Answered*\n2",
        "*Not found*\n4 (67%)",
        "*Blocked*\n0",
        "*👍 / 👎*\n1 / 2 (33% 👍)",
    ]
    shown = texts(view)
    assert "*Not found*\n5 (56%)" in shown and "*👍 / 👎*\n2 / 3 (40% 👍)" in shown
    assert "• answer/v2: 👍 1 · 👎 1 · 50% 👍 · 4 answers" in shown
    assert "*2×* · 2 people · last 2026-12-01\nVPNの設定方法は？" in shown
    assert "_Reason:_ other · _Comment:_ &lt;\u200b!channel&gt; hi" in shown  # defused, escaped
    assert [json.loads(b["value"]) for b in buttons(view)] == [
        {"question": "VPNの設定方法は？", "answer_id": "a2"},
        {"question": "Expenses deadline?", "answer_id": "a5"},
    ]
    assert {b["action_id"] for b in buttons(view)} == {"open_save_faq"}


def test_log_text_pings_nobody_and_links_nowhere() -> None:
    nasty = "<!here> <@U123> ask @channel at https://evil.example <https://x.example|click>"
    view = valid(home.dashboard(figures(clusters=(NotFoundCluster(1, 1, nasty, "a1", "2026-12-01"),))))
    shown = texts(view)
    assert "<!here>" not in shown and "<@U123>" not in shown and "<https://" not in shown
    assert "@\u200bchannel" in shown and "https:\u200b//evil.\u200bexample" in shown
    assert all(b["text"]["verbatim"] for b in view["blocks"] if b["type"] == "section")


def test_long_and_many_entries_are_cut_to_slacks_limits() -> None:
    # GIVEN questions of 5,000 characters with quotes (JSON escapes them) and 200 clusters
    long = 'VPN "quoted" ' * 400
    many = tuple(NotFoundCluster(1, 1, long, f"a{n}", "2026-12-01") for n in range(200))
    down = DownVote("a1", "2026-12-01T00:00:00", long, "wrong", long, "v1")
    # WHEN the dashboard is built
    view = valid(home.dashboard(figures(clusters=many, latest_down=(down,))))
    # THEN it has at most 100 blocks, every section text is at most 3,000 characters, and every
    # button value is JSON of at most 2,000 that still names the answer
    assert len(view["blocks"]) == 100
    assert all(len(b["text"]["text"]) <= 3000 for b in view["blocks"] if "text" in b)
    for button in buttons(view):
        assert len(button["value"]) <= 2000 and len(button["text"]["text"]) <= 75
        assert json.loads(button["value"])["question"].startswith('VPN "quoted"')


@pytest.mark.parametrize(
    ("missing", "said", "not_said"),
    [
        pytest.param({"answers"}, "The answer log could not be read", "*Questions*", id="answers"),
        pytest.param({"feedback"}, "The feedback log could not be read", "👍 1 · 👎 2", id="feedback"),
    ],
)
def test_what_could_not_be_read_is_said_where_its_figures_would_be(missing, said, not_said) -> None:
    view = valid(home.dashboard(figures(missing=frozenset(missing), clusters=(), latest_down=())))
    shown = texts(view)
    assert said in shown and not_said not in shown


def test_no_lists_and_unreadable_records_are_said() -> None:
    view = valid(home.dashboard(figures(clusters=(), latest_down=(), unreadable=2)))
    shown = texts(view)
    assert "Every question found an answer." in shown and "No 👎 in this time." in shown
    assert "2 unreadable log records left out." in shown


def test_a_thumbs_down_without_its_question_has_no_save_button() -> None:
    vote = DownVote("a7", "2026-12-02T08:00:00+00:00", None, None, None, None)
    view = valid(home.dashboard(figures(clusters=(), latest_down=(vote,))))
    assert buttons(view) == []
    assert "_(the question is not in the log)_\n_Reason:_ no reason given\n2026-12-02 08:00 UTC" in texts(
        view
    )


def test_the_usage_guide_and_the_unavailable_notice_are_valid_views() -> None:
    guide = valid(home.usage_guide())
    assert "`/kotae your question`" in texts(guide) and "👎" in texts(guide)
    notice = valid(home.unavailable("abc123"))
    assert "ref abc123" in texts(notice)
