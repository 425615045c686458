"""What Slack or the configuration refuses around "Save as FAQ" and "Ask a person": logged, told
to the person where there is someone to tell, and never an item written by halves."""

from __future__ import annotations

import json
import logging

import pytest

from bot import handler as bot_handler
from kotae.app import Kotae
from kotae.settings import load_settings
from tests.functional import test_bot_escalation as escalation
from tests.functional import test_bot_knowledge_loop as loop
from tests.functional.test_bot import use_profiles
from tests.functional.test_bot_ai_blocks import interaction

bot, editors = loop.bot, loop.editors  # the fixtures, shared


def warnings(caplog) -> list[str]:
    return [r.message for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_thread_and_link_slack_will_not_give_leave_the_form_to_fill_in(editors, caplog) -> None:
    slack, lam = editors
    slack.refuse = {"chat.getPermalink", "conversations.replies"}
    view = loop.opened_form(slack, lam, loop.shortcut(loop.thread(slack)))
    assert loop.initial(view, "question") is None and loop.initial(view, "answer")
    assert {"no permalink for a message", "could not read the thread to save"} <= set(warnings(caplog))
    loop.submit(lam, view, question=loop.TERRACE_Q)
    [confirmation] = loop.posted(slack, "C1")
    assert "archives" not in confirmation["text"]
    assert Kotae(load_settings()).store.documents(loop.TERRACE_KEY)


def test_an_expired_trigger_opens_nothing_and_says_so_in_the_log(editors, caplog) -> None:
    slack, lam = editors
    slack.refuse = {"views.open", "views.update"}
    assert interaction(loop.shortcut(loop.thread(slack)))["statusCode"] == 200
    lam.wait()
    assert {"could not open the Save as FAQ modal", "could not fill in the Save as FAQ modal"} <= set(
        warnings(caplog)
    )


def test_a_non_editor_kotae_cannot_reach_in_the_channel_still_sees_the_notice(bot, caplog) -> None:
    slack, lam = bot
    slack.refuse = {"chat.postEphemeral"}
    view = loop.opened_form(slack, lam, loop.shortcut(loop.thread(slack)))
    assert "knowledge editors" in view["blocks"][0]["text"]["text"]
    assert "could not tell a non-editor why" in warnings(caplog)


HOME = loop.home_button("[]", trigger="1.6")  # a value kotae did not write


@pytest.mark.parametrize(
    ("broken", "payload"),
    [
        pytest.param("profiles", lambda slack: loop.shortcut(loop.thread(slack)), id="profile-file-shortcut"),
        pytest.param("profiles", lambda slack: HOME, id="profile-file-app-home"),
        pytest.param("settings", lambda slack: loop.shortcut(loop.thread(slack)), id="settings-shortcut"),
    ],
)
def test_a_broken_configuration_is_a_notice_with_a_reference(
    editors, monkeypatch, tmp_path, broken, payload
) -> None:
    slack, lam = editors
    if broken == "profiles":
        use_profiles(monkeypatch, tmp_path, "{not json")
    else:
        monkeypatch.setenv("KOTAE_TOP_K", "0")
        bot_handler.install_runtime(None)
    view = loop.opened_form(slack, lam, payload(slack))
    text = view["blocks"][0]["text"]["text"]
    assert text.startswith(
        "Sorry, kotae cannot save FAQs right now: kotae is not configured correctly. (ref "
    )


def test_an_app_home_button_with_a_value_kotae_did_not_write_opens_an_empty_form(editors) -> None:
    slack, lam = editors
    view = loop.opened_form(slack, lam, HOME)
    assert loop.initial(view, "question") is None and json.loads(view["private_metadata"])["scopes"] == [
        "public"
    ]


def test_a_saved_item_stays_saved_when_slack_refuses_the_words_about_it(editors, caplog) -> None:
    slack, lam = editors
    view = loop.opened_form(slack, lam, loop.shortcut(loop.thread(slack)))
    slack.refuse = {"chat.postMessage", "chat.postEphemeral"}
    loop.submit(lam, view)
    loop.submit(lam, view)  # the second is refused as saved before, and that cannot be told either
    assert Kotae(load_settings()).store.documents(loop.TERRACE_KEY)
    assert {"could not post the save confirmation", "could not tell the saver"} <= set(warnings(caplog))


def test_escalating_with_a_broken_profile_file_tells_the_clicker_with_a_reference(bot, monkeypatch, tmp_path):
    slack, lam = bot
    use_profiles(monkeypatch, tmp_path, escalation.PROFILES)
    block = escalation.not_found_answer(slack, lam)
    use_profiles(monkeypatch, tmp_path, "{not json")
    interaction(escalation.ask_a_person(block))
    lam.wait()
    [ephemeral] = slack.called("chat.postEphemeral")
    assert ephemeral["text"].startswith("Sorry, kotae is not configured correctly. (ref ")


def test_a_clicker_kotae_cannot_reach_is_logged(bot, monkeypatch, tmp_path, caplog) -> None:
    slack, lam = bot
    use_profiles(monkeypatch, tmp_path, escalation.PROFILES)
    block = escalation.not_found_answer(slack, lam)
    slack.errors["chat.postMessage"] = "not_in_channel"
    slack.refuse = {"chat.postEphemeral"}
    interaction(escalation.ask_a_person(block))
    lam.wait()
    assert {"could not post the question for people", "could not tell the clicker"} <= set(warnings(caplog))


def test_a_question_passed_on_stays_passed_on_when_the_askers_thread_cannot_be_told(
    bot, monkeypatch, tmp_path, caplog
) -> None:
    slack, lam = bot
    use_profiles(monkeypatch, tmp_path, escalation.PROFILES)
    block = escalation.not_found_answer(slack, lam)
    slack.channel_errors["C1"] = "not_in_channel"
    interaction(escalation.ask_a_person(block))
    lam.wait()
    assert len(loop.posted(slack, "CHELP")) == 1
    assert "could not tell the asker's thread" in warnings(caplog)
