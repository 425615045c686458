"""The bot's Home tab: the knowledge owners' dashboard, or a short usage guide. Pure functions.

Editors (bot/editors.py) see the figures of kotae.ops.home_figures for the last 7 and 30 days,
👍/👎 per prompt version, the most asked not-found questions and the latest 👎, the last two
each with a "Save as FAQ" button whose value carries the question and the answer id (the
save listener opens its modal from it). Everyone else sees how to ask.

Every question, comment and name here comes from the logs, so it is defused and escaped like
answer text (bot/sanitize.py, bot/formatting.py) and shown in ``verbatim`` sections. Slack's
limits are kept by cutting: 100 blocks a view, 3000 characters a section text, 2000 a field
and a button value, 75 a button label, 150 a header
(https://docs.slack.dev/reference/views/home-tab-views,
https://docs.slack.dev/reference/block-kit/blocks/section-block,
https://docs.slack.dev/reference/block-kit/block-elements/button-element). A log that could not
be read is said so where its figures would be.
"""

from __future__ import annotations

import json
from typing import Any

from bot.formatting import cut, escape
from bot.sanitize import defuse
from kotae.ops.home_figures import DownVote, HomeFigures, NotFoundCluster, WindowFigures

SAVE_FAQ_ACTION = "open_save_faq"
MAX_BLOCKS, MAX_SECTION, MAX_FIELD, MAX_VALUE, MAX_HEADER = 100, 3000, 2000, 2000, 150
MAX_QUESTION = 300  # characters of a question shown in a list
MAX_VERSIONS = 20  # prompt versions listed per window
REASONS = {"wrong": "wrong", "outdated": "out of date", "not_found": "did not find it", "other": "other"}
MISSING = {
    "answers": "The answer log could not be read: no question figures, not-found questions or "
    "questions of the 👎 below.",
    "feedback": "The feedback log could not be read: no 👍/👎 figures or latest 👎.",
}


def user_text(text: str, limit: int = MAX_QUESTION) -> str:
    """Text from the logs as safe mrkdwn on one line: nothing pings, links or formats."""
    return cut(escape(defuse(" ".join(text.split()))), limit)


def _mrkdwn(text: str, limit: int = MAX_SECTION) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": cut(text, limit), "verbatim": True}


def section(text: str, block_id: str | None = None, **extra: Any) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": _mrkdwn(text)}
    if block_id:
        block["block_id"] = block_id
    return {**block, **extra}


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:MAX_HEADER]}}


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_mrkdwn(text)]}


def save_button(question: str, answer_id: str) -> dict[str, Any]:
    """The "Save as FAQ" button; its value is JSON {"question", "answer_id"} of at most 2000
    characters (the question is shortened until it fits)."""
    question = question.strip()
    while True:
        value = json.dumps({"question": question, "answer_id": answer_id[:64]}, ensure_ascii=False)
        if len(value) <= MAX_VALUE:
            break
        question = question[: len(question) - (len(value) - MAX_VALUE)]
    return {
        "type": "button",
        "action_id": SAVE_FAQ_ACTION,
        "text": {"type": "plain_text", "text": "Save as FAQ"},
        "value": value,
    }


def _percent(share: float | None) -> str:
    return "–" if share is None else f"{share:.0%}"


def window_blocks(window: WindowFigures, missing: frozenset[str]) -> list[dict[str, Any]]:
    """One window's figures: counts as fields, then 👍/👎 per prompt version."""
    title = f"*Last {window.days} days*"
    if "answers" in missing:
        return [section(f"{title}\n⚠️ {MISSING['answers']}", f"home:window:{window.days}")]
    votes = "–" if "feedback" in missing else f"{window.up} / {window.down} ({_percent(window.up_ratio)} 👍)"
    fields = [
        f"*Questions*\n{window.asked}",
        f"*Answered*\n{window.answered}",
        f"*Not found*\n{window.not_found} ({_percent(window.refused_share)})",
        f"*Blocked*\n{window.blocked}",
        f"*👍 / 👎*\n{votes}",
    ]
    blocks = [
        {
            "type": "section",
            "block_id": f"home:window:{window.days}",
            "text": _mrkdwn(title),
            "fields": [_mrkdwn(text, MAX_FIELD) for text in fields],
        }
    ]
    if "feedback" not in missing and window.versions:
        lines = [
            f"• {user_text(f'{v.prompt_task}/{v.prompt_version}', 100)}: 👍 {v.up} · 👎 {v.down} · "
            f"{_percent(v.up_ratio)} 👍 · {v.answers} answers"
            for v in window.versions[:MAX_VERSIONS]
        ]
        blocks.append(section("*👍/👎 per prompt version*\n" + "\n".join(lines)))
    return blocks


def cluster_block(index: int, cluster: NotFoundCluster) -> dict[str, Any]:
    people = "1 person" if cluster.people == 1 else f"{cluster.people} people"
    text = f"*{cluster.count}×* · {people} · last {cluster.last_asked[:10]}\n{user_text(cluster.example)}"
    return section(text, f"home:not_found:{index}", accessory=save_button(cluster.example, cluster.answer_id))


def down_block(index: int, vote: DownVote) -> dict[str, Any]:
    question = user_text(vote.question) if vote.question else "_(the question is not in the log)_"
    reason = REASONS.get(vote.reason or "", user_text(vote.reason or "no reason given", 50))
    lines = [question, f"_Reason:_ {reason}"]
    if vote.comment:
        lines[-1] += f" · _Comment:_ {user_text(vote.comment, 600)}"
    version = f" · prompt {user_text(vote.prompt_version, 64)}" if vote.prompt_version else ""
    lines.append(f"{vote.time[:16].replace('T', ' ')} UTC{version}")
    extra = {"accessory": save_button(vote.question, vote.answer_id)} if vote.question else {}
    return section("\n".join(lines), f"home:down:{index}", **extra)


def list_blocks(figures: HomeFigures) -> list[dict[str, Any]]:
    """The two lists with their "Save as FAQ" buttons, or why they are empty."""
    days = max((w.days for w in figures.windows), default=30)
    blocks = [{"type": "divider"}, header(f"Asked and not found (last {days} days)")]
    if "answers" in figures.missing:
        blocks.append(section(f"⚠️ {MISSING['answers']}"))
    elif not figures.clusters:
        blocks.append(section("Every question found an answer."))
    blocks += [cluster_block(i, c) for i, c in enumerate(figures.clusters)]
    blocks += [{"type": "divider"}, header(f"Latest 👎 (last {days} days)")]
    if "feedback" in figures.missing:
        blocks.append(section(f"⚠️ {MISSING['feedback']}"))
    elif not figures.latest_down:
        blocks.append(section("No 👎 in this time."))
    blocks += [down_block(i, v) for i, v in enumerate(figures.latest_down)]
    return blocks


def dashboard(figures: HomeFigures) -> dict[str, Any]:
    """The editors' Home view."""
    stamp = figures.now.strftime("%Y-%m-%d %H:%M UTC")
    note = f"From the answer and feedback logs, as of {stamp}."
    if figures.unreadable:
        plural = "s" if figures.unreadable != 1 else ""
        note += f" {figures.unreadable} unreadable log record{plural} left out."
    blocks: list[dict[str, Any]] = [header("kotae: the knowledge at work"), context(note)]
    for window in figures.windows:
        blocks += window_blocks(window, figures.missing)
    blocks += list_blocks(figures)
    return home_view(blocks)


def unavailable(reference: str) -> dict[str, Any]:
    """The editors' Home view when no figure could be computed at all."""
    return home_view(
        [
            header("kotae: the knowledge at work"),
            section(
                f"⚠️ The figures could not be computed just now (ref {escape(reference)}). Please try later."
            ),
        ]
    )


def usage_guide() -> dict[str, Any]:
    """Everyone else's Home view: how to ask and how to rate an answer."""
    return home_view(
        [
            header("Ask kotae"),
            section(
                "kotae answers from your team's knowledge and cites its sources.\n"
                "• In a channel: mention it with your question, e.g. `@kotae how do I connect to the VPN?` "
                "It answers in the thread.\n"
                "• Privately: send it a direct message, or type `/kotae your question` in any channel."
            ),
            section(
                "*Did it help?* Click 👍 or 👎 under an answer. A 👎 asks what went wrong: the "
                "people who keep the knowledge read it and fix the answer."
            ),
        ]
    )


def home_view(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "home", "blocks": blocks[:MAX_BLOCKS]}
