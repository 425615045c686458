"""The App Home figures (kotae.ops.home_figures) on a small log whose figures are worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kotae.ops.home_figures import (
    DownVote,
    NotFoundCluster,
    VersionFeedback,
    cluster_questions,
    home_figures,
    similar,
)
from kotae.ops.redaction import DROPPED

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def answer(answer_id, ago, outcome, version, question, user="U1", **extra):
    record = {
        "answer_id": answer_id,
        "time": (NOW - ago).isoformat(),
        "user_id": user,
        "question": question,
        "found": outcome == "answered",
        "outcome": outcome,
        "prompt_task": "answer",
        "prompt_version": version,
        **extra,
    }
    return {k: v for k, v in record.items() if v is not None}


def click(answer_id, at, value, user, reason=None, comment=None):
    return {
        "answer_id": answer_id,
        "time": at.isoformat(),
        "user_id": user,
        "feedback": value,
        "reason": reason,
        "comment": comment,
    }


ANSWERS = [
    answer("a1", DAY, "answered", "v1", "VPN?"),
    answer("a2", 2 * DAY, "not_found", "v1", "VPNの設定方法は？", user="U1"),
    answer("a3", 3 * DAY, "not_found", "v2", "VPN 設定 方法", user="U2"),
    answer("a10", 4 * DAY, "not_found", "v1", "VPNがつながらない", user="U1"),
    answer("a8", 5 * DAY, None, "v2", "how to set up vpn", user="U4", found=False),  # before `outcome`
    answer("a9", 6 * DAY, None, "v1", "Printer?", found=True),
    answer("a4", 10 * DAY, "not_found", "v2", "How do I set up the VPN?", user="U3"),
    answer("a5", 12 * DAY, "answered", "v2", "Expenses deadline?"),
    answer("a6", 20 * DAY, "blocked", "v1", "something blocked"),
    answer("a7", 40 * DAY, "not_found", "v1", "an old question"),  # outside both windows
]
FEEDBACK = [
    click("a1", NOW - DAY + timedelta(minutes=1), "up", "U1"),
    click(
        "a1", NOW - DAY + timedelta(minutes=2), "down", "U1", "wrong", "outdated link"
    ),  # changed their mind
    click("a1", NOW - DAY + timedelta(minutes=3), "up", "U2"),
    click("a7", NOW - timedelta(hours=20), "down", "U1"),  # its answer is not in the windows
    click("a5", NOW - 11 * DAY, "down", "U1", "outdated"),
    click("a5", NOW - 9 * DAY, "up", "U1"),  # withdraws U1's 👎
    click("a5", NOW - 2 * DAY, "down", "U2", "other", "<!channel> hi"),
    click("a9", NOW - 6 * DAY + timedelta(hours=1), "down", "U3"),
]


@pytest.fixture
def figures():
    return home_figures(ANSWERS, FEEDBACK, NOW)


@pytest.mark.parametrize(
    ("index", "counts", "versions", "votes"),
    [
        pytest.param(
            0,
            # a1, a2, a3, a10, a8, a9; answered a1 and a9 (by `found`); not found a2, a3, a10, a8 (by `found`)
            (7, 6, 2, 4, 0),
            # v1: a1, a2, a10, a9: U1's last click on a1 is 👎, U2 👍, U3 👎 on a9; v2: a3, a8, no clicks
            # (a5's 👎 two days ago is on an answer given 12 days ago, outside this window)
            (VersionFeedback("answer", "v1", 4, 1, 2), VersionFeedback("answer", "v2", 2, 0, 0)),
            (1, 2, 1 / 3),
            id="last-7-days",
        ),
        pytest.param(
            1,
            # + a4 (not found), a5 (answered), a6 (blocked); a7 is 40 days old
            (30, 9, 3, 5, 1),
            # v2 gains a4, a5: U1's last click on a5 is 👍 (the 👎 withdrawn), U2's is 👎
            (VersionFeedback("answer", "v1", 5, 1, 2), VersionFeedback("answer", "v2", 4, 1, 1)),
            (2, 3, 2 / 5),
            id="last-30-days",
        ),
    ],
)
def test_a_windows_figures(figures, index, counts, versions, votes) -> None:
    window = figures.windows[index]
    asked, not_found = counts[1], counts[3]
    assert (window.days, window.asked, window.answered, window.not_found, window.blocked) == counts
    assert window.refused_share == pytest.approx(not_found / asked)  # not found among all answers
    assert window.versions == versions
    assert (window.up, window.down, window.up_ratio) == (votes[0], votes[1], pytest.approx(votes[2]))


def test_not_found_questions_cluster_near_duplicates(figures) -> None:
    # Japanese a2 + a3 ({vpn, 設定, 方法}), English a4 + a8 ({set, vpn}), a10 alone ({vpn, 繋がる});
    # the latest question is the example, most asked first, then the latest asked
    assert figures.clusters == (
        NotFoundCluster(2, 2, "VPNの設定方法は？", "a2", ANSWERS[1]["time"]),
        NotFoundCluster(2, 2, "how to set up vpn", "a8", ANSWERS[4]["time"]),
        NotFoundCluster(1, 1, "VPNがつながらない", "a10", ANSWERS[3]["time"]),
    )


def test_latest_thumbs_down_with_reasons_and_their_questions(figures) -> None:
    assert figures.latest_down == (
        DownVote("a7", FEEDBACK[3]["time"], None, None, None, None),  # its answer is 40 days old
        DownVote("a1", FEEDBACK[1]["time"], "VPN?", "wrong", "outdated link", "v1"),
        DownVote("a5", FEEDBACK[6]["time"], "Expenses deadline?", "other", "<!channel> hi", "v2"),
        DownVote("a9", FEEDBACK[7]["time"], "Printer?", None, None, "v1"),
    )


def test_an_empty_log_has_no_shares_and_records_without_a_time_are_left_out() -> None:
    figures = home_figures([{"answer_id": "x", "time": "not a time"}, {"time": NOW.isoformat()}], [], NOW)
    assert [(w.asked, w.refused_share, w.up_ratio) for w in figures.windows] == [(0, None, None)] * 2
    assert (figures.clusters, figures.latest_down, VersionFeedback("t", "v", 0).up_ratio) == ((), (), None)


def test_what_could_not_be_read_is_carried() -> None:
    figures = home_figures([], [], NOW, missing=["feedback"], unreadable=3)
    assert (figures.missing, figures.unreadable) == (frozenset({"feedback"}), 3)


def not_found(*questions: str) -> list[dict]:
    return [
        answer(f"q{n}", timedelta(hours=len(questions) - n), "not_found", "v1", q, user=f"U{n}")
        for n, q in enumerate(questions)
    ]


@pytest.mark.parametrize(
    ("questions", "sizes"),
    [
        pytest.param(
            ["VPNの設定方法は？", "VPN 設定 方法", "VPNの設定方法を教えて"], [3], id="ja-near-duplicates"
        ),
        pytest.param(["How do I set up the VPN?", "how to set up vpn"], [2], id="en-near-duplicates"),
        pytest.param(["有給休暇の申請方法", "有給の申請"], [2], id="ja-half-the-tokens-shared"),
        pytest.param(["VPNの設定方法は？", "VPNがつながらない"], [1, 1], id="ja-same-topic-other-question"),
        pytest.param(["How do I set up the VPN?", "Where is the printer?"], [1, 1], id="en-different"),
        pytest.param(["how do I?", "How do I"], [2], id="no-tokens-same-text"),
        pytest.param(["how do I?", "what is it?"], [1, 1], id="no-tokens-other-text"),
    ],
)
def test_clusters(questions, sizes) -> None:
    assert [c.count for c in cluster_questions(not_found(*questions))] == sizes


def test_dropped_and_empty_questions_are_not_clustered() -> None:
    records = [*not_found(DROPPED, "VPN?"), {**not_found("x")[0], "answer_id": "q9", "question": None}]
    assert [c.example for c in cluster_questions(records)] == ["VPN?"]


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        pytest.param({"a", "b"}, {"a", "b", "c", "d"}, True, id="jaccard-0.5"),
        pytest.param({"a", "b"}, {"a", "c", "d"}, False, id="jaccard-0.25"),
        pytest.param(set(), set(), False, id="empty"),
    ],
)
def test_similar(a, b, same) -> None:
    assert similar(frozenset(a), frozenset(b)) is same
