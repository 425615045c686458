"""Templates are data: a prompt or document template can never run code (issue 11, hole 1).

Each attack here executed on the unsandboxed environment (checked before the fix: the marker
file was written); now it is refused with a PromptRenderError before or while rendering.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import boto3
import jinja2
import pytest
from moto import mock_aws

from kotae.answer.prompts import DirectorySource, DynamoDBSource, PromptRegistry, PromptTemplate, publish
from kotae.errors import PromptRenderError
from kotae.indexing.render import DocumentRenderer
from kotae.models import Item
from kotae.templates import compile_template, make_environment
from tests.conftest import PROMPTS
from tests.standins.tables import create_prompt_table

VARIABLES = {"question": "q", "lang": "en", "history": [], "sources": []}


ATTACKS = [
    pytest.param("{{ cycler.__init__.__globals__.os.system('touch MARKER') }}", id="cycler-globals"),
    pytest.param("{{ joiner['__init__']['__globals__'].os.system('touch MARKER') }}", id="subscript-globals"),
    pytest.param("{{ ''.__class__.__mro__[1].__subclasses__() }}", id="mro-subclasses"),
    pytest.param("{{ (lipsum|attr('__globals__')).os.system('touch MARKER') }}", id="attr-filter"),
]


def _template(body: str) -> str:
    return "{% block system %}s{% endblock %}{% block user %}" + body + "{% endblock %}"


@pytest.mark.parametrize("attack", ATTACKS)
def test_a_prompt_file_cannot_run_code(tmp_path: Path, attack: str) -> None:
    marker = tmp_path / "pwned"
    body = attack.replace("MARKER", str(marker))
    prompts = tmp_path / "prompts"
    (prompts / "answer").mkdir(parents=True)
    (prompts / "answer" / "v9.j2").write_text(_template(body))
    registry = PromptRegistry(DirectorySource(prompts))
    with pytest.raises(PromptRenderError):
        registry.render("answer", "v9", today=date(2026, 1, 1), **VARIABLES)
    assert not marker.exists()


def test_a_template_from_the_prompt_table_cannot_run_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    with mock_aws():
        client = boto3.client("dynamodb", region_name="ap-northeast-1")
        create_prompt_table(client, "prompt_templates")
        text = _template(ATTACKS[0].values[0].replace("MARKER", str(marker)))
        client.put_item(
            TableName="prompt_templates",
            Item={"task_name": {"S": "answer"}, "prompt_version": {"S": "v9"}, "prompt_template": {"S": text}},
        )
        registry = PromptRegistry(DynamoDBSource("prompt_templates", client), DirectorySource(PROMPTS))
        with pytest.raises(PromptRenderError, match="private attributes"):
            registry.render("answer", "v9", **VARIABLES)
    assert not marker.exists()


def test_publish_refuses_a_template_that_reaches_into_python(tmp_path: Path) -> None:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="ap-northeast-1")
        create_prompt_table(client, "prompt_templates")
        good = PromptTemplate(task="answer", version="v8", text=_template("{{ question }}"), source="v8.j2")
        bad = PromptTemplate(
            task="answer", version="v9", text=_template("{{ cycler.__init__ }}"), source="v9.j2"
        )
        with pytest.raises(PromptRenderError, match=r"v9.j2: .*__init__"):
            publish([good, bad], "prompt_templates", client)
        assert client.scan(TableName="prompt_templates")["Items"] == []  # nothing went live


def test_the_sandbox_also_stops_unsafe_calls_without_underscores() -> None:
    """Mutating a passed-in object is refused at render time (immutable sandbox)."""
    registry = PromptRegistry(_DictSource({"v9": _template("{{ history.append('x') }}{{ history }}")}))
    with pytest.raises(PromptRenderError, match="sandbox"):
        registry.render("answer", "v9", **VARIABLES)


def test_document_templates_are_sandboxed_too(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    prompts = tmp_path / "prompts"
    shutil.copytree(PROMPTS, prompts)
    attack = ATTACKS[0].values[0].replace("MARKER", str(marker))
    (prompts / "documents" / "faq.j2").write_text(
        "{% block title %}t{% endblock %}{% block text %}" + attack + "{% endblock %}"
    )
    renderer = DocumentRenderer(prompts)
    item = Item.from_mapping({"item_key": "k", "kind": "faq", "question": "q", "answer": "a"})
    with pytest.raises(jinja2.exceptions.SecurityError):
        renderer.render(item)
    assert not marker.exists()


def test_ordinary_templates_still_compile() -> None:
    env = make_environment()
    template = compile_template(env, "{{ items|map(attribute='name')|join(', ') }} {{ d['k'] }}", "t")
    assert template.render(items=[{"name": "a"}, {"name": "b"}], d={"k": 1}) == "a, b 1"


class _DictSource:
    def __init__(self, texts: dict[str, str]) -> None:
        self.texts = texts

    def get(self, task: str, version: str) -> PromptTemplate | None:
        text = self.texts.get(version)
        return None if text is None else PromptTemplate(task=task, version=version, text=text, source=version)

    def list(self) -> list[PromptTemplate]:
        return []
