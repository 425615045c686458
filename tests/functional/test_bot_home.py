"""The App Home tab through the real bot: a signed app_home_opened event → views.publish with
the figures of a fixture log (tests/fixtures/home_log, worked out by hand below) for knowledge
editors, the usage guide for everyone else, and a view that says what is missing when the logs
cannot be read. Every view is checked against python-slack-sdk's models."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.models.views import View

from bot import handler as bot_handler
from kotae.ops.answer_log import LocalSink
from tests.functional import test_bot
from tests.functional.test_bot import deliver, use_profiles
from tests.functional.test_bot_ai_blocks import valid_blocks

bot = test_bot.bot  # the same fixture: a real Bolt app against the Slack and Lambda stand-ins
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "home_log"
AS_OF = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)  # the fixture's "now" (its README)
EDITOR, PROFILE_EDITOR = "UEDITOR1", "UPROFILE7"


def home_opened(user: str = EDITOR, tab: str = "home", event_id: str = "EvH1") -> str:
    event = {"type": "app_home_opened", "user": user, "channel": "D1", "tab": tab, "event_ts": "1700000000.1"}
    return json.dumps({"type": "event_callback", "team_id": "T1", "event_id": event_id, "event": event})


def install_log(logs: Path) -> None:
    """The fixture log in the local data directory, moved so that its "now" is now."""
    shift = datetime.now(UTC) - AS_OF
    sink = LocalSink(logs)
    for kind in ("answers", "feedback"):
        for line in (FIXTURE / f"{kind}.jsonl").read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # the unreadable line: into today's partition as it is
                path = logs / kind / f"dt={datetime.now(UTC).date()}" / f"{kind}.jsonl"
                path.parent.mkdir(parents=True, exist_ok=True)
                with path.open("a", encoding="utf-8") as handle:
                    handle.write(line + "\n")
                continue
            moved = datetime.fromisoformat(record["time"]) + shift
            sink.write(kind, {**record, "time": moved.isoformat()})


@pytest.fixture
def home(bot, monkeypatch, tmp_path):
    """The bot with EDITOR as the knowledge editor and the fixture log in its data directory."""
    monkeypatch.setenv("KOTAE_KNOWLEDGE_EDITORS", EDITOR)
    bot_handler.install_runtime(None)
    install_log(tmp_path / "data" / "logs")
    return bot


def published(slack, lam, user: str = EDITOR) -> dict[str, Any]:
    """The one view views.publish got after the user opened the Home tab, checked by slack_sdk."""
    assert deliver(lam, home_opened(user))["statusCode"] == 200 and lam.errors == []
    [call] = slack.called("views.publish")
    assert call["user_id"] == user
    view = call["view"] if isinstance(call["view"], dict) else json.loads(call["view"])
    assert View(**view).to_dict() == view
    valid_blocks(view["blocks"])
    return view


def shown(view: dict[str, Any]) -> str:
    parts = []
    for block in view["blocks"]:
        parts.append(block.get("text", {}).get("text", ""))
        parts += [f["text"] for f in block.get("fields", [])]
        parts += [e.get("text", "") for e in block.get("elements", [])]
    return "\n".join(parts)


def fields(view: dict[str, Any], days: int) -> list[str]:
    block = next(b for b in view["blocks"] if b.get("block_id") == f"home:window:{days}")
    return [f["text"] for f in block["fields"]]


def test_an_editor_opening_the_home_tab_gets_the_figures_of_the_log(home) -> None:
    slack, lam = home
    view = published(slack, lam)
    # Last 7 days: h1-h4 asked; h1, h4 answered; h2, h3 not found (2 of 4). Last clicks: h1 👍 by
    # U1 and 👎 by U2; h4's 👎 by U1 withdrawn by their 👍 an hour later: 2 👍, 1 👎
    assert fields(view, 7) == [
        "*Questions*\n4",
        "*Answered*\n2",
        "*Not found*\n2 (50%)",
        "*Blocked*\n0",
        "*👍 / 👎*\n2 / 1 (67% 👍)",
    ]
    # Last 30 days: + h5 (not found), h6 (blocked), h7 (answered, 👎 by U3); h8 is 45 days old
    assert fields(view, 30) == [
        "*Questions*\n7",
        "*Answered*\n3",
        "*Not found*\n3 (43%)",
        "*Blocked*\n1",
        "*👍 / 👎*\n2 / 2 (50% 👍)",
    ]
    text = shown(view)
    # v1 in 7 days: h1, h2; in 30: + h6, h7. v2 in 7 days: h3, h4; in 30: + h5
    assert (
        "• answer/v1: 👍 1 · 👎 1 · 50% 👍 · 2 answers\n• answer/v2: 👍 1 · 👎 0 · 100% 👍 · 2 answers"
        in text
    )
    assert (
        "• answer/v1: 👍 1 · 👎 2 · 33% 👍 · 4 answers\n• answer/v2: 👍 1 · 👎 0 · 100% 👍 · 3 answers"
        in text
    )
    assert "1 unreadable log record left out." in text
    # The not-found questions: h2 and h3 are one question (tokens vpn, 設定, 方法), h5 another
    clusters = [b for b in view["blocks"] if b.get("block_id", "").startswith("home:not_found:")]
    assert [b["text"]["text"].split("\n")[0].split(" · ")[:2] for b in clusters] == [
        ["*2×*", "2 people"],
        ["*1×*", "1 person"],
    ]
    assert [json.loads(b["accessory"]["value"]) for b in clusters] == [
        {"question": "VPNの設定方法は？", "answer_id": "h2"},
        {"question": "Where is the cafeteria?", "answer_id": "h5"},
    ]
    # The latest 👎: U2's on h1 (its comment defused: it pings nobody), then U3's on h7
    downs = [b for b in view["blocks"] if b.get("block_id", "").startswith("home:down:")]
    assert [b["text"]["text"].split("\n")[:2] for b in downs] == [
        [
            "How do I connect to the VPN from home?",
            "_Reason:_ wrong · _Comment:_ &lt;\u200b@\u200bU999&gt; says the link is dead",
        ],
        ["Printer?", "_Reason:_ did not find it"],
    ]
    assert [json.loads(b["accessory"]["value"])["answer_id"] for b in downs] == ["h1", "h7"]
    assert {b["accessory"]["action_id"] for b in clusters + downs} == {"open_save_faq"}


def test_someone_who_keeps_no_knowledge_gets_the_usage_guide(home) -> None:
    slack, lam = home
    view = published(slack, lam, user="U2")
    assert "`/kotae your question`" in shown(view) and "*Questions*" not in shown(view)


def test_a_channel_profiles_editor_gets_the_dashboard(home, monkeypatch, tmp_path) -> None:
    slack, lam = home
    use_profiles(monkeypatch, tmp_path, {"channels": {"C9": {"editors": [PROFILE_EDITOR]}}})
    assert fields(published(slack, lam, user=PROFILE_EDITOR), 7)[0] == "*Questions*\n4"


def test_a_broken_profile_file_keeps_the_settings_editors(home, monkeypatch, tmp_path) -> None:
    slack, lam = home
    use_profiles(monkeypatch, tmp_path, "{not json")
    assert fields(published(slack, lam), 7)[0] == "*Questions*\n4"


def test_unreadable_logs_give_a_view_that_says_what_is_missing(bot, monkeypatch, tmp_path) -> None:
    # GIVEN answer and feedback files that are not UTF-8
    slack, lam = bot
    monkeypatch.setenv("KOTAE_KNOWLEDGE_EDITORS", EDITOR)
    bot_handler.install_runtime(None)
    for kind in ("answers", "feedback"):
        path = tmp_path / "data" / "logs" / kind / f"dt={datetime.now(UTC).date()}" / f"{kind}.jsonl"
        path.parent.mkdir(parents=True)
        path.write_bytes(b"\xff\xfe\xfa")
    # WHEN the editor opens the Home tab
    text = shown(published(slack, lam))
    # THEN the view says which log could not be read, and shows no figures from it
    assert "The answer log could not be read" in text and "The feedback log could not be read" in text
    assert "*Questions*" not in text


def test_figures_that_fail_outright_give_a_notice_with_a_reference(home, monkeypatch, caplog) -> None:
    slack, lam = home

    def broken(settings):
        raise RuntimeError("a bug")

    monkeypatch.setattr("kotae.ops.home_source.source_for", broken)
    text = shown(published(slack, lam))
    assert "could not be computed just now (ref " in text
    assert any(r.message == "the Home tab figures failed" for r in caplog.records)


def test_settings_the_bot_cannot_use_give_the_usage_guide(home, monkeypatch) -> None:
    slack, lam = home
    monkeypatch.setenv("KOTAE_TOP_K", "0")
    bot_handler.install_runtime(None)
    assert "`/kotae your question`" in shown(published(slack, lam))


def test_a_refused_publish_is_logged_and_the_messages_tab_publishes_nothing(home, caplog) -> None:
    slack, lam = home
    assert deliver(lam, home_opened(tab="messages", event_id="EvH2"))["statusCode"] == 200
    assert slack.called("views.publish") == []
    slack.refuse.add("views.publish")
    assert deliver(lam, home_opened(event_id="EvH3"))["statusCode"] == 200 and lam.errors == []
    assert any(r.message == "could not publish the Home tab" for r in caplog.records)
