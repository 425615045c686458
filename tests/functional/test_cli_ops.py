"""`kotae prompts publish|list` and `kotae load` against moto tables."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from tests.standins.streams import knowledge_table
from tests.standins.tables import create_prompt_table

ROOT = Path(__file__).resolve().parents[2]
REGION = "ap-northeast-1"


@pytest.fixture
def prompt_table(monkeypatch):
    monkeypatch.setenv("KOTAE_AWS_REGION", REGION)
    monkeypatch.setenv("KOTAE_PROMPT_TABLE", "prompt_templates")
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_prompt_table(client, "prompt_templates")
        yield client


@pytest.fixture
def prompts(tmp_path) -> Path:
    """A copy of prompts/ that a test may edit."""
    target = tmp_path / "prompts"
    shutil.copytree(ROOT / "prompts", target)
    return target


def live(client) -> dict[tuple[str, str], str]:
    items = client.scan(TableName="prompt_templates")["Items"]
    return {(i["task_name"]["S"], i["prompt_version"]["S"]): i["prompt_template"]["S"] for i in items}


def test_publish_puts_every_version_then_finds_nothing_to_do(run, prompt_table, prompts) -> None:
    code, out, _ = run("prompts", "publish", "--dir", str(prompts))
    on_disk = {(p.parent.name, p.stem) for p in prompts.glob("*/*.j2") if p.parent.name != "documents"}
    assert code == 0 and out.count("published") == len(on_disk)
    assert set(live(prompt_table)) == on_disk
    assert live(prompt_table)[("answer", "v1")] == (prompts / "answer" / "v1.j2").read_text()
    code, out, _ = run("prompts", "publish", "--dir", str(prompts))
    assert code == 0 and out.count("unchanged") == len(on_disk) and "published" not in out


def test_a_changed_published_version_is_refused_and_new_versions_still_go_live(
    run, prompt_table, prompts
) -> None:
    # GIVEN v1 is live
    run("prompts", "publish", "--dir", str(prompts))
    original = live(prompt_table)[("answer", "v1")]
    # WHEN someone edits v1 in place and adds a v9
    (prompts / "answer" / "v1.j2").write_text(original + "\n{# tweak #}\n")
    (prompts / "answer" / "v9.j2").write_text(original)
    code, out, err = run("prompts", "publish", "--dir", str(prompts))
    # THEN v1 is refused with a clear message, the live v1 is untouched, and v9 is published
    assert code == 2
    assert "answer/v1 already published with different text" in err and "new version" in err
    assert "conflict" in out
    assert live(prompt_table)[("answer", "v1")] == original
    assert ("answer", "v9") in live(prompt_table)


def test_a_template_that_does_not_compile_publishes_nothing(run, prompt_table, prompts) -> None:
    (prompts / "answer" / "v7.j2").write_text("{% block user %}{{ question {% endblock %}")
    code, _, err = run("prompts", "publish", "--dir", str(prompts))
    assert code == 1 and "v7.j2: line 1" in err
    assert live(prompt_table) == {}


def test_a_directory_without_templates_is_an_input_error(run, prompt_table, tmp_path) -> None:
    code, _, err = run("prompts", "publish", "--dir", str(tmp_path / "empty"))
    assert code == 2 and "no templates under" in err and live(prompt_table) == {}


def test_dry_run_writes_nothing(run, prompt_table, prompts) -> None:
    code, out, _ = run("prompts", "publish", "--dir", str(prompts), "--dry-run")
    assert code == 0 and "would publish" in out and live(prompt_table) == {}


def test_list_shows_what_is_live_and_what_is_on_disk(run, prompt_table, prompts) -> None:
    code, out, _ = run("prompts", "list")
    assert code == 0 and "v1" not in out
    run("prompts", "publish", "--dir", str(prompts))
    code, out, _ = run("prompts", "list")
    assert code == 0 and "answer" in out and "v1" in out and "20" in out  # published_at year
    code, out, _ = run("prompts", "list", "--local")
    assert code == 0 and "v1" in out


def test_a_missing_table_is_a_clear_error(run, prompt_table, prompts, monkeypatch) -> None:
    code, _, err = run("prompts", "publish", "--dir", str(prompts), "--table", "nope")
    assert code == 1 and "answer/v1 from nope" in err and "ResourceNotFound" in err and "Traceback" not in err
    code, _, err = run("prompts", "list", "--table", "nope")
    assert code == 1 and "listing prompts in nope" in err


def test_publish_loses_a_race_gracefully(prompt_table, prompts) -> None:
    # GIVEN another publisher writes answer/v1 between our read and our conditional put
    from kotae.answer.prompts import DirectorySource, publish

    theirs = "{% block user %}theirs{% endblock %}"

    class Racing:
        exceptions = prompt_table.exceptions

        def __init__(self) -> None:
            self.raced = False

        def get_item(self, **kwargs):
            return prompt_table.get_item(**kwargs)

        def put_item(self, **kwargs):
            if not self.raced:
                self.raced = True
                prompt_table.put_item(
                    TableName=kwargs["TableName"],
                    Item={**kwargs["Item"], "prompt_template": {"S": theirs}},
                )
            return prompt_table.put_item(**kwargs)

    templates = [t for t in DirectorySource(prompts).list() if (t.task, t.version) == ("answer", "v1")]
    # WHEN we publish
    [result] = publish(templates, "prompt_templates", Racing())
    # THEN theirs stays and ours is reported as a conflict
    assert result.outcome == "conflict" and live(prompt_table)[("answer", "v1")] == theirs


def test_a_refused_write_is_a_store_error(prompt_table, prompts) -> None:
    # GIVEN a role that may read the table but not write it
    from botocore.exceptions import ClientError

    from kotae.answer.prompts import DirectorySource, publish
    from kotae.errors import StoreError

    class ReadOnly:
        exceptions = prompt_table.exceptions

        def get_item(self, **kwargs):
            return prompt_table.get_item(**kwargs)

        def put_item(self, **kwargs):
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "PutItem")

    with pytest.raises(StoreError, match="publishing answer/v1 to prompt_templates: .*AccessDenied"):
        publish(DirectorySource(prompts).list(), "prompt_templates", ReadOnly())


def test_load_puts_items_into_the_knowledge_table(run, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("KOTAE_AWS_REGION", REGION)
    source = tmp_path / "items.jsonl"
    source.write_text(
        '{"item_key": "a", "kind": "faq", "question": "Q?", "answer": "A.", "score": 0.5}\n'
        "not json\n"
        '{"kind": "faq"}\n'
        '{"item_key": "7", "kind": "record", "status": "ok", "nested": {"ratio": 1.25, "list": [0.1]}}\n'
        '{"id": 8, "kind": "record"}\n',
        encoding="utf-8",
    )
    with knowledge_table() as table:
        code, out, err = run("load", str(source), "--table", table.name)
        assert code == 0 and "wrote 1 faq, 1 record" in out and "3 line(s) rejected" in out
        assert "line 2" in err and "line 3" in err
        # the table's key (DescribeTable) is what every line must carry, not any of id, key, pk
        assert "line 5: the item has no key attribute 'item_key'" in " ".join(err.split())
        items = {
            i["item_key"]: i
            for i in boto3.resource("dynamodb", region_name=REGION).Table(table.name).scan()["Items"]
        }
        assert set(items) == {"a", "7"}
        assert items["a"]["score"] == Decimal("0.5") and items["7"]["nested"]["list"] == [Decimal("0.1")]


def test_load_into_a_missing_table_is_a_clear_error(run, monkeypatch) -> None:
    monkeypatch.setenv("KOTAE_AWS_REGION", REGION)
    with mock_aws():
        code, _, err = run("load", str(ROOT / "samples" / "knowledge.jsonl"), "--table", "nope")
    assert code == 1 and "cannot read the key schema of table nope" in err and "Traceback" not in err
