"""The knowledge loop in Slack through the real bot: "Save as FAQ" on a thread, the item written
(moto DynamoDB and its stream into the index in AWS, the embedded store on one machine) and
answered next; who may save; bad submissions; "Ask a person" on a not-found answer and the
answer saved from the escalation thread. Signed requests into the Lambda handler, against the
Slack and Lambda stand-ins; every view and block kotae sends is checked with slack_sdk's models."""

from __future__ import annotations

import json
import logging
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeDeserializer
from moto import mock_aws
from slack_sdk.models.views import View

import kotae.aws
from bot import handler as bot_handler
from ingest import handler as ingest_handler
from ingest.runtime import runtime as ingest_runtime
from kotae.app import Kotae
from kotae.settings import load_settings
from tests.functional import test_bot
from tests.functional.test_bot import deliver, mention, use_profiles
from tests.functional.test_bot_ai_blocks import interaction, valid_blocks
from tests.functional.test_ingest_handler import LambdaContext
from tests.standins.opensearch import OpenSearchStandIn
from tests.standins.streams import REGION, create_table, knowledge_table

bot = test_bot.bot
ROOT_TS, REPLY_TS = "1700000000.000100", "1700000000.000300"
TERRACE_Q = "How do I book the rooftop terrace for a team party?"
TERRACE_A = "Book it in <https://rooms.hoshizora.example|RoomBook> under *Terrace*; parties end by 21:00 &amp; need a host."
TERRACE_KEY = f"faq-slack-C1-{REPLY_TS.replace('.', '')}"


def valid_view(view: Any) -> dict[str, Any]:
    view = view if isinstance(view, dict) else json.loads(view)
    assert View(**view).to_dict() == view, view
    valid_blocks(view["blocks"])
    return view


def thread(slack, *, root: dict | None = None, reply_text: str = TERRACE_A, reply_ts: str = REPLY_TS) -> dict:
    """A thread the stand-in serves: its first message and a colleague's reply (returned)."""
    root = root or {"ts": ROOT_TS, "user": "U1", "text": TERRACE_Q}
    reply = {"ts": reply_ts, "thread_ts": root["ts"], "user": "U03", "text": reply_text}
    slack.replies[root["ts"]] = [root, reply]
    return reply


def payload(kind: str, user: str, **fields: Any) -> dict:
    """An interaction payload of this type from ``user``, with these fields."""
    return {
        "type": kind,
        "team": {"id": "T1"},
        "user": {"id": user},
        "api_app_id": "A1",
        "token": "t",
        **fields,
    }


def shortcut(message: dict, *, user: str = "U02", channel: str = "C1", trigger: str = "1.3") -> dict:
    return payload(
        "message_action",
        user,
        callback_id="save_faq",
        trigger_id=trigger,
        channel={"id": channel},
        message=message,
        message_ts=message["ts"],
        response_url="https://hooks.slack.invalid/1",
    )


def home_button(value: str, *, user: str = "U02", trigger: str = "1.4") -> dict:
    """A click of an App Home "Save as FAQ" button with this value."""
    action = {
        "type": "button",
        "action_id": "open_save_faq",
        "block_id": "b",
        "value": value,
        "action_ts": "1",
    }
    container = {"type": "view", "view_id": "VHOME"}
    return payload("block_actions", user, trigger_id=trigger, container=container, actions=[action])


def opened_form(slack, lam, payload: dict) -> dict[str, Any]:
    """Run the shortcut (or button): the loading modal, then the view that replaced it."""
    assert interaction(payload)["statusCode"] == 200
    lam.wait()
    [opened] = slack.called("views.open")
    loading = valid_view(opened["view"])
    assert opened["trigger_id"] == payload["trigger_id"] and loading["external_id"].endswith(
        payload["trigger_id"]
    )
    [update] = slack.called("views.update")
    assert update["external_id"] == loading["external_id"]
    return valid_view(update["view"])


def initial(view: dict, block_id: str) -> Any:
    element = next(b for b in view["blocks"] if b["block_id"] == block_id)["element"]
    if element["type"] == "multi_static_select":
        return [o["value"] for o in element["initial_options"]]
    if element["type"] == "static_select":
        return element["initial_option"]["value"]
    return element.get("initial_value")


def submission(view: dict, *, user: str = "U02", **changes: Any) -> dict:
    """The view_submission of the form as shown, with these fields changed."""
    fields = {b["block_id"]: initial(view, b["block_id"]) for b in view["blocks"] if b["type"] == "input"}
    fields.update(changes)
    option = lambda v: {"text": {"type": "plain_text", "text": str(v)}, "value": v}  # noqa: E731
    values = {
        "question": {"question": {"type": "plain_text_input", "value": fields["question"]}},
        "answer": {"answer": {"type": "plain_text_input", "value": fields["answer"]}},
        "lang": {
            "lang": {
                "type": "static_select",
                "selected_option": option(fields["lang"]) if fields["lang"] else None,
            }
        },
        "tags": {"tags": {"type": "plain_text_input", "value": fields["tags"]}},
        "url": {"url": {"type": "url_text_input", "value": fields["url"]}},
        "scopes": {
            "scopes": {
                "type": "multi_static_select",
                "selected_options": [option(s) for s in fields["scopes"]],
            }
        },
    }
    return payload("view_submission", user, view={**view, "id": "V1", "state": {"values": values}})


def submit(lam, view: dict, **changes: Any) -> dict:
    response = interaction(submission(view, **changes))
    lam.wait()
    assert response["statusCode"] == 200
    return response


def cited(tmp_path) -> list[list[str]]:
    files = sorted((tmp_path / "data" / "logs" / "answers").glob("dt=*/answers.jsonl"))
    return [json.loads(line)["cited"] for path in files for line in path.read_text().splitlines()]


def posted(slack, channel: str) -> list[dict[str, Any]]:
    return [m for m in slack.called("chat.postMessage") if m["channel"] == channel]


@pytest.fixture
def editors(bot, monkeypatch):
    monkeypatch.setenv("KOTAE_KNOWLEDGE_EDITORS", "U02,SEDITORS")
    bot_handler.install_runtime(None)
    return bot


def test_a_thread_saved_as_faq_on_one_machine_answers_the_next_question(editors, tmp_path) -> None:
    slack, lam = editors
    # GIVEN a thread where a colleague answered a question kotae could not
    reply = thread(slack)
    # WHEN an editor uses "Save as FAQ" on the reply
    view = opened_form(slack, lam, shortcut(reply))
    # THEN the modal is prefilled: the thread's first message, the reply as plain text, English,
    # and the profile's scope
    assert initial(view, "question") == TERRACE_Q
    assert initial(view, "answer") == (
        "Book it in RoomBook (https://rooms.hoshizora.example) under *Terrace*; parties end by 21:00 & need a host."
    )
    assert (initial(view, "lang"), initial(view, "scopes")) == ("en", ["public"])
    [replies] = slack.called("conversations.replies")
    assert (replies["ts"], replies["limit"], replies["include_all_metadata"]) == (ROOT_TS, "1", "1")
    # WHEN it is submitted with tags
    response = submit(lam, view, tags="facilities, events ,")
    # THEN the modal closes, the thread is told who saved what, with a link to the source
    assert not response.get("body")
    [confirmation] = posted(slack, "C1")
    assert confirmation["thread_ts"] == ROOT_TS and confirmation["text"].startswith(
        "<@U02> saved this as an FAQ"
    )
    assert "https://hoshizora.slack.com/archives/C1/p1700000000000300" in confirmation["text"]
    # AND the next question is answered from the new item
    deliver(lam, mention("How can I book the rooftop terrace for a party?", event_id="EvK1"))
    assert cited(tmp_path)[-1][0] == TERRACE_KEY
    [document] = Kotae(load_settings()).store.documents(TERRACE_KEY)
    assert "Tags: facilities, events" in document.text and document.lang == "en"


def deployed(monkeypatch, server: OpenSearchStandIn) -> None:
    """Settings as deployed: OpenSearch as the index, the knowledge table in DynamoDB."""
    for name, value in {
        "KOTAE_STORE": "opensearch",
        "KOTAE_OPENSEARCH_ENDPOINT": server.url,
        "KOTAE_OPENSEARCH_AUTH": "none",
        "KOTAE_KNOWLEDGE_TABLE": "knowledge",
        "KOTAE_AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    kotae.aws.client.cache_clear()
    ingest_runtime.cache_clear()
    bot_handler.install_runtime(None)


@pytest.fixture
def in_aws(editors, monkeypatch):
    """GIVEN kotae as deployed: the knowledge table (moto, with a stream) and OpenSearch (stand-in)."""
    with OpenSearchStandIn() as server, knowledge_table(name="knowledge") as table:
        deployed(monkeypatch, server)
        Kotae(load_settings()).store.ensure_index()
        yield (*editors, table)
        ingest_runtime.cache_clear()
        kotae.aws.client.cache_clear()


def table_items(table) -> dict[str, dict[str, Any]]:
    rows = table.client.scan(TableName=table.name)["Items"]
    items = [{k: TypeDeserializer().deserialize(v) for k, v in row.items()} for row in rows]
    return {item["item_key"]: item for item in items}


def test_in_aws_a_saved_faq_goes_through_the_table_and_its_stream_to_the_answer(in_aws, tmp_path) -> None:
    slack, lam, table = in_aws
    reply = thread(slack)
    view = opened_form(slack, lam, shortcut(reply))
    submit(lam, view, url="https://wiki.hoshizora.example/facilities/terrace")
    # THEN the item is in the knowledge table, with who saved it, from where and when
    item = table_items(table)[TERRACE_KEY]
    assert (item["kind"], item["lang"], item["question"], item["scopes"]) == (
        "faq",
        "en",
        TERRACE_Q,
        ["public"],
    )
    assert item["created_by"] == "U02" and item["url"] == "https://wiki.hoshizora.example/facilities/terrace"
    assert item["source_permalink"] == "https://hoshizora.slack.com/archives/C1/p1700000000000300"
    assert item["created_at"] == item["updated_at"] and item["created_at"].endswith("+00:00")
    # WHEN the table's stream reaches the ingest Lambda
    event = table.read_event()
    assert [r["eventName"] for r in event["Records"]] == ["INSERT"]
    assert ingest_handler.handler(event, LambdaContext()) == {"batchItemFailures": []}
    # THEN the next question is answered from it, with its link
    deliver(lam, mention("How can I book the rooftop terrace for a party?", event_id="EvK2"))
    assert cited(tmp_path)[-1][0] == TERRACE_KEY
    sources = valid_blocks(slack.called("chat.update")[-1]["blocks"])
    assert any("wiki.hoshizora.example/facilities/terrace" in json.dumps(b) for b in sources)


def test_a_message_saved_twice_is_refused_politely(editors) -> None:
    slack, lam = editors
    reply = thread(slack)
    view = opened_form(slack, lam, shortcut(reply))
    submit(lam, view)
    submit(lam, view)
    [ephemeral] = slack.called("chat.postEphemeral")
    assert ephemeral["user"] == "U02" and "saved as an FAQ before" in ephemeral["text"]
    assert TERRACE_KEY in ephemeral["text"] and len(posted(slack, "C1")) == 1


@pytest.mark.parametrize(
    "editors_setting",
    [pytest.param(None, id="no-editors-configured"), pytest.param("U09,SOTHERS", id="not-among-them")],
)
def test_a_non_editor_gets_a_polite_notice_and_nothing_is_written(bot, monkeypatch, editors_setting) -> None:
    slack, lam = bot
    if editors_setting:
        monkeypatch.setenv("KOTAE_KNOWLEDGE_EDITORS", editors_setting)
        slack.groups["SOTHERS"] = ["U09"]
        bot_handler.install_runtime(None)
    view = opened_form(slack, lam, shortcut(thread(slack)))
    # THEN the modal is a notice without a form, and the person is told in the channel too
    assert "submit" not in view and [b["type"] for b in view["blocks"]] == ["section"]
    assert "knowledge editors" in view["blocks"][0]["text"]["text"]
    [ephemeral] = slack.called("chat.postEphemeral")
    assert (ephemeral["channel"], ephemeral["user"]) == ("C1", "U02") and "Thank you" in ephemeral["text"]
    assert (
        slack.called("conversations.replies") == []
        and Kotae(load_settings()).store.state(TERRACE_KEY) is None
    )


def test_a_member_of_an_editors_user_group_may_save(bot, monkeypatch, tmp_path) -> None:
    slack, lam = bot
    use_profiles(
        monkeypatch, tmp_path, {"channels": {"C1": {"scopes": ["public", "hr"], "editors": ["SHR"]}}}
    )
    slack.groups["SHR"] = ["U05", "U02"]
    view = opened_form(slack, lam, shortcut(thread(slack)))
    [lookup] = slack.called("usergroups.users.list")
    assert lookup["usergroup"] == "SHR"
    element = next(b for b in view["blocks"] if b["block_id"] == "scopes")["element"]
    assert [o["value"] for o in element["options"]] == ["public", "hr"]
    submit(lam, view, scopes=["hr"])
    assert Kotae(load_settings()).store.documents(TERRACE_KEY)[0].scopes == ["hr"]


LONG = "x" * 3001


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        pytest.param({"question": "  "}, {"question": "Please write the question."}, id="empty-question"),
        pytest.param({"answer": ""}, {"answer": "Please write the answer."}, id="empty-answer"),
        pytest.param(
            {"question": "q" * 121},
            {"question": "Please keep the question under 120 characters (it has 121)."},
            id="question-over-kotaes-limit",
        ),
        pytest.param(
            {"answer": LONG},
            {"answer": "Please keep the answer under 3,000 characters (it has 3,001)."},
            id="answer-over-slacks-limit",
        ),
        pytest.param({"lang": None}, {"lang": "Please choose a language."}, id="no-language"),
        pytest.param({"lang": "fr"}, {"lang": "Please choose a language."}, id="unknown-language"),
        pytest.param(
            {"tags": ",".join(f"t{i}" for i in range(21))},
            {"tags": "Please give at most 20 tags."},
            id="many-tags",
        ),
        pytest.param(
            {"tags": "a, " + "b" * 51}, {"tags": "Please keep each tag under 50 characters."}, id="long-tag"
        ),
        pytest.param(
            {"url": "javascript:alert(1)"},
            {"url": "Please give a web address that starts with https:// (or leave it empty)."},
            id="not-a-web-address",
        ),
        pytest.param({"scopes": []}, {"scopes": "Please choose who may see it."}, id="no-scope"),
        pytest.param(
            {"scopes": ["public", "hr"]},
            {"scopes": "You may not make it visible to: hr."},
            id="scope-not-allowed",
        ),
        pytest.param(
            {"question": "", "answer": ""},
            {"question": "Please write the question.", "answer": "Please write the answer."},
            id="several-at-once",
        ),
    ],
)
def test_a_bad_submission_is_shown_inline_and_nothing_is_written(
    editors, monkeypatch, changes, errors
) -> None:
    slack, lam = editors
    monkeypatch.setenv("KOTAE_MAX_QUESTION_CHARS", "120")
    bot_handler.install_runtime(None)
    view = opened_form(slack, lam, shortcut(thread(slack)))
    response = submit(lam, view, **changes)
    assert json.loads(response["body"]) == {"response_action": "errors", "errors": errors}
    assert Kotae(load_settings()).store.state(TERRACE_KEY) is None and slack.called("chat.postMessage") == []


def test_a_submission_whose_metadata_is_not_kotaes_is_dropped(editors, caplog) -> None:
    slack, lam = editors
    view = opened_form(slack, lam, shortcut(thread(slack)))
    response = submit(lam, {**view, "private_metadata": "not json"})
    assert not response.get("body") and slack.called("chat.postMessage") == []
    assert any(r.message == "Save as FAQ modal without its metadata" for r in caplog.records)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        pytest.param(None, "The knowledge store is not available right now.", id="no-table"),
        pytest.param(
            (("pk", "S", "HASH"), ("sk", "N", "RANGE")),
            "kotae is not configured correctly.",
            id="two-part-key",
        ),
    ],
)
def test_a_failing_write_tells_the_saver_with_a_reference(editors, monkeypatch, caplog, key, message) -> None:
    slack, lam = editors
    # GIVEN kotae as deployed, but without the knowledge table or with one keyed otherwise
    with OpenSearchStandIn() as server, mock_aws():
        if key:
            create_table(boto3.client("dynamodb", region_name=REGION), "knowledge", key)
        deployed(monkeypatch, server)
        view = opened_form(slack, lam, shortcut(thread(slack)))
        with caplog.at_level(logging.ERROR):
            submit(lam, view)
    kotae.aws.client.cache_clear()
    [ephemeral] = slack.called("chat.postEphemeral")
    assert ephemeral["thread_ts"] == ROOT_TS and ephemeral["text"].startswith("Sorry, the FAQ was not saved")
    assert message in ephemeral["text"]
    [logged] = [r for r in caplog.records if r.message == "FAQ not saved"]
    assert f"(ref {logged.reference})" in ephemeral["text"] and posted(slack, "C1") == []


def test_a_store_that_fails_to_write_tells_the_saver_with_a_reference(editors, caplog) -> None:
    import sqlite3

    # GIVEN the embedded store fails when the item is written (a locked or full disk, say)
    slack, lam = editors
    view = opened_form(slack, lam, shortcut(thread(slack)))

    def locked(*args, **kwargs):
        raise sqlite3.OperationalError("database is locked")

    bot_handler.runtime().kotae.store.write = locked
    with caplog.at_level(logging.ERROR):
        submit(lam, view)
    [ephemeral] = slack.called("chat.postEphemeral")
    [logged] = [r for r in caplog.records if r.message == "FAQ not saved"]
    assert "the knowledge could not be written right now" in ephemeral["text"]
    assert f"(ref {logged.reference})" in ephemeral["text"] and "database is locked" not in ephemeral["text"]


def test_an_app_home_button_opens_the_form_and_the_saver_is_told_by_dm(bot, monkeypatch, tmp_path) -> None:
    slack, lam = bot
    use_profiles(
        monkeypatch, tmp_path, {"channels": {"CHR": {"scopes": ["public", "hr"], "editors": ["U02"]}}}
    )
    value = json.dumps({"question": "Where is the lost and found?", "answer_id": "a" * 32})
    view = opened_form(slack, lam, home_button(value))
    assert initial(view, "question") == "Where is the lost and found?" and initial(view, "answer") is None
    element = next(b for b in view["blocks"] if b["block_id"] == "scopes")["element"]
    assert [o["value"] for o in element["options"]] == ["public", "hr"]
    submit(lam, view, answer="At the front desk on the 1st floor.")
    [dm] = slack.called("chat.postMessage")
    assert dm["channel"] == "U02" and "Where is the lost and found?" in dm["text"]
    [document] = Kotae(load_settings()).store.documents("faq-slack-" + "a" * 32)
    assert "front desk" in document.text


FORM = {"type": "modal", "callback_id": "save_faq", "private_metadata": '{"scopes":["public"]}', "blocks": []}


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(shortcut({"ts": REPLY_TS, "text": "x"}), id="shortcut"),
        pytest.param(
            submission(
                {**FORM, "blocks": []},
                question="q",
                answer="a",
                lang="en",
                tags=None,
                url=None,
                scopes=["public"],
            ),
            id="submission",
        ),
    ],
)
def test_a_cold_ack_of_the_knowledge_loop_imports_nothing_heavy(editors, payload) -> None:
    # GIVEN a fresh process, as in a Lambda cold start (tests/functional/test_bot.py)
    import urllib.parse

    from tests.functional.test_bot import ACK_PROCESS, cold_ack

    script = ACK_PROCESS.replace('"application/json"', '"application/x-www-form-urlencoded"')
    result, invocations = cold_ack("payload=" + urllib.parse.quote(json.dumps(payload)), script)
    # THEN it acked and started the lazy invocation without pydantic, Powertools or settings
    assert result["status"] == 200 and invocations == 1
    heavy = ("pydantic", "pydantic_settings", "aws_lambda_powertools", "kotae.settings", "kotae.models")
    assert [m for m in result["modules"] if m.startswith(heavy)] == []
