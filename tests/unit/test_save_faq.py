"""The pure parts of "Save as FAQ": the views, the metadata, the submission, the item."""

from __future__ import annotations

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.escalation import Origin
from bot.save_faq import (
    MAX_METADATA,
    MAX_TEXT,
    Draft,
    InvalidSave,
    Prefill,
    Source,
    external_id,
    form_view,
    item_fields,
    item_key,
    loading_view,
    notice_view,
    slack_text,
    submitted,
)

ORIGIN = Origin("C1", "1700000000.000100", "a1", "Who won?")
SOURCE = Source(
    scopes=("public", "hr"),
    max_question=200,
    channel="CHELP",
    message_ts="1700000600.000100",
    thread_ts="1700000500.000100",
    permalink="https://x.slack.com/archives/CHELP/p1700000600000100",
    origin=ORIGIN,
)


def valid(view: dict) -> dict:
    assert View(**view).to_dict() == view
    for block in view["blocks"]:
        assert Block.parse(block).to_dict() == block
    return view


def element(view: dict, block_id: str) -> dict:
    return next(b for b in view["blocks"] if b["block_id"] == block_id)["element"]


def test_the_loading_and_notice_views_are_valid_modals() -> None:
    assert valid(loading_view("1.2"))["external_id"] == external_id("1.2") == "save_faq:1.2"
    assert len(external_id("9" * 400)) == 255
    notice = valid(notice_view("x" * 4000))
    assert "submit" not in notice and len(notice["blocks"][0]["text"]["text"]) == MAX_TEXT


def test_the_form_is_prefilled_within_its_limits() -> None:
    view = valid(form_view(Prefill("q" * 300, "a" * 4000, "ja", ("hr", "secret")), SOURCE))
    assert (
        element(view, "question")["max_length"] == 200
        and len(element(view, "question")["initial_value"]) == 200
    )
    assert len(element(view, "answer")["initial_value"]) == MAX_TEXT
    assert element(view, "lang")["initial_option"]["value"] == "ja"
    assert [o["value"] for o in element(view, "scopes")["options"]] == ["public", "hr"]
    assert [o["value"] for o in element(view, "scopes")["initial_options"]] == ["hr"]
    assert Source.of(view["private_metadata"]) == SOURCE


def test_an_unknown_language_and_no_chosen_scope_fall_back() -> None:
    view = valid(form_view(Prefill("q", "", "fr"), Source(scopes=("public",))))
    assert element(view, "lang")["initial_option"]["value"] == "en"
    assert [o["value"] for o in element(view, "scopes")["initial_options"]] == ["public"]
    assert "initial_value" not in element(view, "answer")


def test_the_metadata_stays_within_slacks_limit() -> None:
    long = Source(scopes=("public",), permalink="https://x/" + "p" * 4000)
    assert len(long.metadata()) <= MAX_METADATA and Source.of(long.metadata()).permalink is None


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(None, id="none"),
        pytest.param("not json", id="not-json"),
        pytest.param("[1]", id="not-an-object"),
        pytest.param('{"scopes": ["public"], "bogus": 1}', id="unknown-field"),
        pytest.param('{"scopes": ["public"], "origin": "C1"}', id="origin-not-an-object"),
    ],
)
def test_metadata_kotae_did_not_write_is_refused(text) -> None:
    with pytest.raises(InvalidSave):
        Source.of(text)


def state(**values) -> dict:
    fields = {
        "question": "Who won?",
        "answer": "Kestrel.",
        "lang": "en",
        "tags": None,
        "url": None,
        "scopes": ["hr"],
    }
    fields.update(values)
    option = lambda v: {"value": v}  # noqa: E731
    return {
        "private_metadata": SOURCE.metadata(),
        "state": {
            "values": {
                "question": {"question": {"value": fields["question"]}},
                "answer": {"answer": {"value": fields["answer"]}},
                "lang": {"lang": {"selected_option": option(fields["lang"])}},
                "tags": {"tags": {"value": fields["tags"]}},
                "url": {"url": {"value": fields["url"]}},
                "scopes": {"scopes": {"selected_options": [option(s) for s in fields["scopes"]]}},
            }
        },
    }


def test_a_good_submission_is_a_draft_with_its_tags_cleaned() -> None:
    draft = submitted(
        state(
            tags="bowling、 events,bowling ,，trophy",
            url=" https://wiki.example/bowling ",
            scopes=["hr", "hr"],
        )
    )
    assert isinstance(draft, Draft)
    assert draft.tags == ("bowling", "events", "trophy") and draft.url == "https://wiki.example/bowling"
    assert draft.scopes == ("hr",) and draft.source == SOURCE


@pytest.mark.parametrize(
    "url",
    [
        "ftp://files.example/x",
        "https://localhost",
        "https://wiki.example/a b",
        "https://" + "x" * 2000 + ".example",
    ],
)
def test_addresses_that_are_not_web_pages_are_refused(url: str) -> None:
    assert set(submitted(state(url=url))) == {"url"}


def test_the_key_is_the_same_for_the_same_message_or_answer() -> None:
    assert item_key(SOURCE, "u1") == "faq-slack-CHELP-1700000600000100"
    assert item_key(Source(scopes=(), answer_id="a9"), "u1") == "faq-slack-a9"
    assert item_key(Source(scopes=()), "u1") == "faq-slack-u1"


def test_the_item_names_its_saver_source_time_and_the_answer_it_was_saved_for() -> None:
    draft = submitted(state())
    assert isinstance(draft, Draft)
    fields = item_fields(draft, user_id="U07", now="2026-12-03T13:00:00+00:00")
    assert fields == {
        "lang": "en",
        "question": "Who won?",
        "answer": "Kestrel.",
        "tags": [],
        "scopes": ["hr"],
        "created_by": "U07",
        "created_at": "2026-12-03T13:00:00+00:00",
        "updated_at": "2026-12-03T13:00:00+00:00",
        "source_permalink": SOURCE.permalink,
        "saved_for_answer_id": "a1",
    }
    home = Draft(Source(scopes=("public",), answer_id="a7"), "q", "a", "en")
    assert item_fields(home, user_id="U07", now="t")["saved_for_answer_id"] == "a7"
    assert "saved_for_answer_id" not in item_fields(
        Draft(Source(scopes=()), "q", "a", "en"), user_id="U", now="t"
    )


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("See <https://wiki.example/x|the wiki>.", "See the wiki (https://wiki.example/x)."),
        ("See <https://wiki.example/x>.", "See https://wiki.example/x."),
        ("Mail <mailto:it@example.com|it@example.com>", "Mail it@example.com (mailto:it@example.com)"),
        ("Ask <@U123> or <!subteam^S1|@helpers> in <#C1|general>", "Ask @U123 or @helpers in #general"),
        ("<!here> a &lt;b&gt; &amp; c", "@here a <b> & c"),
    ],
)
def test_slack_text_becomes_plain_text(text: str, plain: str) -> None:
    assert slack_text(text) == plain
