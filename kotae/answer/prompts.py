"""Versioned prompt templates: prompts/<task>/<version>.j2, or the DynamoDB prompt_templates table.

A table item is ``{task_name, prompt_version, prompt_template}`` (partition and sort key), the
layout the seed articles use so a prompt change is a data change, not a deploy. Templates are
rendered with StrictUndefined; the current date is a render-time variable.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

import jinja2
from jinja2.exceptions import SecurityError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kotae.errors import PromptNotFound, PromptRenderError, StoreError
from kotae.templates import compile_template, make_environment

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class PromptTemplate:
    task: str
    version: str
    source: str  # where it came from: a file path or dynamodb://table
    text: str
    published_at: str | None = None  # set for templates read from the table


class PromptParameters(BaseModel):
    """Answer parameters that belong to a prompt version, from its optional ``parameters`` block
    (a JSON object). A version is measured as a whole, so what it was tuned with travels with it;
    unset values fall back to the deployment's settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_relevance: float | None = Field(default=None, ge=0.0, le=1.0)
    max_sources: int | None = Field(default=None, ge=1, le=50)
    # The answer gate's operating point: answer when P(answerable) reaches it (kotae.answer.gate).
    gate_threshold: float | None = Field(default=None, ge=0.0, le=1.0)


@dataclass(frozen=True)
class RenderedPrompt:
    task: str
    version: str
    system: str
    user: str


class PromptSource(Protocol):
    def get(self, task: str, version: str) -> PromptTemplate | None: ...

    def list(self) -> list[PromptTemplate]: ...


def _check_name(what: str, value: str) -> None:
    if not _NAME.match(value):
        raise PromptNotFound(f"invalid prompt {what} {value!r}: letters, digits, '.', '_' and '-' only")


class DirectorySource:
    """Templates as files: <root>/<task>/<version>.j2 (documents/ holds document templates)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def get(self, task: str, version: str) -> PromptTemplate | None:
        path = self.root / task / f"{version}.j2"
        if not path.is_file():
            return None
        return PromptTemplate(task, version, str(path), path.read_text(encoding="utf-8"))

    def list(self) -> list[PromptTemplate]:
        found = []
        for path in sorted(self.root.glob("*/*.j2")):
            task = path.parent.name
            if task == "documents":
                continue
            found.append(PromptTemplate(task, path.stem, str(path), path.read_text(encoding="utf-8")))
        return found


class DynamoDBSource:
    """Templates in the prompt_templates table (task_name, prompt_version -> prompt_template)."""

    def __init__(self, table_name: str, client: Any) -> None:
        self.table_name = table_name
        self._client = client

    def get(self, task: str, version: str) -> PromptTemplate | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self._client.get_item(
                TableName=self.table_name,
                Key={"task_name": {"S": task}, "prompt_version": {"S": version}},
                ConsistentRead=True,
            )
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"reading prompt {task}/{version} from {self.table_name}: {exc}") from exc
        item = response.get("Item")
        if not item or "S" not in item.get("prompt_template", {}):
            return None
        return PromptTemplate(task, version, f"dynamodb://{self.table_name}", item["prompt_template"]["S"])

    def list(self) -> list[PromptTemplate]:
        from botocore.exceptions import BotoCoreError, ClientError

        out = []
        try:
            for page in self._client.get_paginator("scan").paginate(TableName=self.table_name):
                for item in page.get("Items", []):
                    out.append(
                        PromptTemplate(
                            item["task_name"]["S"],
                            item["prompt_version"]["S"],
                            f"dynamodb://{self.table_name}",
                            item.get("prompt_template", {}).get("S", ""),
                            item.get("published_at", {}).get("S"),
                        )
                    )
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"listing prompts in {self.table_name}: {exc}") from exc
        return sorted(out, key=lambda t: (t.task, t.version))


class PromptRegistry:
    """Looks templates up in its sources in order and caches the compiled ones.

    Published versions are immutable, so a cached template never goes stale.
    """

    def __init__(self, *sources: PromptSource) -> None:
        self._sources = sources
        self._env = make_environment()
        self._cache: dict[tuple[str, str], tuple[PromptTemplate, jinja2.Template]] = {}
        self._lock = threading.Lock()

    def template(self, task: str, version: str) -> tuple[PromptTemplate, jinja2.Template]:
        _check_name("task", task)
        _check_name("version", version)
        key = (task, version)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        for source in self._sources:
            found = source.get(task, version)
            if found is not None:
                compiled = compile_template(self._env, found.text, found.source)
                with self._lock:
                    self._cache[key] = (found, compiled)
                return found, compiled
        raise PromptNotFound(
            f"no prompt template {task}/{version}; check KOTAE_PROMPT_TASK and KOTAE_PROMPT_VERSION"
        )

    def render(
        self, task: str, version: str, *, today: date | None = None, **variables: Any
    ) -> RenderedPrompt:
        meta, template = self.template(task, version)
        variables["today"] = (today or date.today()).isoformat()
        try:
            context = template.new_context(variables)
            blocks = {name: "".join(fn(context)).strip() for name, fn in template.blocks.items()}
        except jinja2.UndefinedError as exc:
            raise PromptRenderError(f"{meta.source}: {exc.message}") from exc
        except SecurityError as exc:
            raise PromptRenderError(f"{meta.source}: refused by the template sandbox: {exc}") from exc
        if "user" not in blocks:
            raise PromptRenderError(f"{meta.source}: a prompt template needs a 'user' block")
        return RenderedPrompt(task, version, blocks.get("system", ""), blocks["user"])

    def parameters(self, task: str, version: str) -> PromptParameters:
        """The version's ``{% block parameters %}{...}{% endblock %}``, or defaults without one."""
        meta, template = self.template(task, version)
        if "parameters" not in template.blocks:
            return PromptParameters()
        try:
            text = "".join(template.blocks["parameters"](template.new_context({}))).strip()
            return PromptParameters.model_validate_json(text or "{}")
        except (jinja2.UndefinedError, ValidationError) as exc:
            raise PromptRenderError(f"{meta.source}: bad parameters block: {exc}") from exc

    def list(self) -> list[PromptTemplate]:
        seen: dict[tuple[str, str], PromptTemplate] = {}
        for source in self._sources:
            for template in source.list():
                seen.setdefault((template.task, template.version), template)
        return sorted(seen.values(), key=lambda t: (t.task, t.version))


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Published:
    task: str
    version: str
    outcome: str  # "published" | "unchanged" | "conflict" | "would publish"
    sha256: str


def publish(
    templates: list[PromptTemplate], table: str, client: Any, *, dry_run: bool = False
) -> list[Published]:
    """Put each template into the prompt_templates table unless that version is already there.

    A live version is immutable: the same text again is "unchanged"; a different text under
    that version is a conflict and is not written (publish it as a new version instead). Every
    template must compile before anything is written, so a bad file publishes nothing. The
    put is conditional, so two people publishing at once cannot overwrite each other.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    env = make_environment()
    for template in templates:
        _check_name("task", template.task)
        _check_name("version", template.version)
        compile_template(env, template.text, template.source)
    live = DynamoDBSource(table, client)
    results = []
    for template in templates:
        digest = content_hash(template.text)
        try:
            outcome = _publish_one(template, digest, table, client, live, dry_run)
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"publishing {template.task}/{template.version} to {table}: {exc}") from exc
        results.append(Published(template.task, template.version, outcome, digest))
    return results


def _publish_one(
    template: PromptTemplate, digest: str, table: str, client: Any, live: DynamoDBSource, dry_run: bool
) -> str:
    current = live.get(template.task, template.version)
    if current is not None:
        return "unchanged" if content_hash(current.text) == digest else "conflict"
    if dry_run:
        return "would publish"
    try:
        client.put_item(
            TableName=table,
            Item={
                "task_name": {"S": template.task},
                "prompt_version": {"S": template.version},
                "prompt_template": {"S": template.text},
                "sha256": {"S": digest},
                "published_at": {"S": datetime.now(UTC).isoformat(timespec="seconds")},
            },
            ConditionExpression="attribute_not_exists(task_name)",
        )
    except client.exceptions.ConditionalCheckFailedException:
        # Someone published this version between our read and write: compare with theirs.
        return _publish_one(template, digest, table, client, live, dry_run=True)
    return "published"
