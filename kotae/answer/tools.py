"""Tools a language model may call while answering, independent of any provider.

A :class:`Tool` is a name, a description, a pydantic input model and a function. The model's
arguments are validated against the input model before anything runs: invalid arguments are
answered to the model with the validation errors and the tool is never executed. A tool's
result may make documents citable; a :class:`SourceBook` numbers them S1, S2, … across the
whole run, so the model cites ``[S3]`` and the answer's citations resolve to real items.

The Converse shapes (``toolConfig``, ``toolUse``, ``toolResult``) are in
https://docs.aws.amazon.com/bedrock/latest/userguide/tool-use-inference-call.html
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from kotae.errors import ConfigError, KotaeError
from kotae.models import Citation, Document, Usage
from kotae.templates import escape_markup

# Bedrock's ToolName: 1-64 letters, digits, '_' or '-'.
TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
SOURCE_TEXT_CHARS = 1200  # of each source's text placed in a tool result
MAX_REPORTED_ERRORS = 10
MAX_ERROR_CHARS = 1000
_CITATION = re.compile(r"\[(S\d+)\]")

# Sent with the last call when the tool rounds are used up: the model must answer from what it has.
FINAL_ROUND_NOTE = (
    "No more tool calls are available for this question. Answer now from the tool results "
    "above, and say plainly what they do not cover."
)

Status = Literal["success", "error"]


@dataclass(frozen=True)
class ToolOutput:
    """What a tool returns: JSON-able ``content`` for the model, and the ``documents`` (with a
    relevance or score) the result makes citable."""

    content: dict[str, Any]
    documents: Sequence[tuple[Document, float]] = ()


@dataclass(frozen=True)
class Tool:
    """A function the model may call with arguments that validate against ``input_model``."""

    name: str
    description: str
    input_model: type[BaseModel]
    run: Callable[[BaseModel], ToolOutput]

    def __post_init__(self) -> None:
        if not TOOL_NAME.match(self.name):
            raise ConfigError(f"tool name {self.name!r}: 1 to 64 letters, digits, '_' or '-'")
        if not self.description.strip():
            raise ConfigError(f"tool {self.name!r} needs a description")


@dataclass(frozen=True)
class ToolCall:
    """One call the model made, for the answer's trace. ``error`` is the log text of a refused or
    failed call; ``output`` is set when the tool ran and returned."""

    name: str
    input: dict[str, Any]
    ok: bool
    error: str | None = None
    output: ToolOutput | None = None


class SourceBook:
    """Numbers the documents tool results make citable, S1, S2, … across the whole run.

    A document seen again (same chunk id) keeps its id and its best score, so two tool calls
    that find the same record give it one id and the model's citations stay unambiguous.
    """

    def __init__(self, *, text_chars: int = SOURCE_TEXT_CHARS) -> None:
        self._text_chars = text_chars
        self._ids: dict[str, str] = {}  # chunk_id -> source id
        self._entries: dict[str, tuple[Document, float]] = {}  # source id -> (document, best score)

    def add(self, document: Document, score: float) -> str:
        """The document's source id, numbering it if it is new."""
        source_id = self._ids.get(document.chunk_id)
        if source_id is None:
            source_id = f"S{len(self._ids) + 1}"
            self._ids[document.chunk_id] = source_id
            self._entries[source_id] = (document, score)
        elif score > self._entries[source_id][1]:
            self._entries[source_id] = (document, score)
        return source_id

    def render(self, output: ToolOutput) -> dict[str, Any]:
        """The tool's content for the model: plain JSON, every string escaped for prompt markup
        (record values and texts come from the knowledge and must not pose as markup), and its
        documents numbered and added as ``sources`` the model can cite."""
        content = _escaped(_json_safe(output.content))
        if output.documents:
            content["sources"] = [self._source(self.add(doc, score), doc) for doc, score in output.documents]
        return content

    def _source(self, source_id: str, doc: Document) -> dict[str, Any]:
        text = doc.text if len(doc.text) <= self._text_chars else doc.text[: self._text_chars].rstrip() + "…"
        return {
            "id": source_id,
            "key": escape_markup(doc.item_key),
            "title": escape_markup(doc.title),
            "url": escape_markup(doc.url) if doc.url else None,
            "text": escape_markup(text),
        }

    def evidence(self) -> list[tuple[str, Document, float]]:
        """Every numbered document, in id order, as ``GenerationContext.evidence`` takes them."""
        return [(sid, doc, score) for sid, (doc, score) in self._entries.items()]

    def citations(self, text: str) -> list[Citation]:
        """Citations for the ids ``text`` cites as ``[S3]``, in order, each once; unknown ids dropped."""
        return [
            Citation(
                id=sid,
                key=self._entries[sid][0].item_key,
                title=self._entries[sid][0].title,
                url=self._entries[sid][0].url,
                score=round(self._entries[sid][1], 4),
            )
            for sid in dict.fromkeys(_CITATION.findall(text))
            if sid in self._entries
        ]

    def __len__(self) -> int:
        return len(self._entries)


@dataclass
class ToolRun:
    """The outcome of a tool-using conversation: the final text and the whole trace.

    ``stop_reason`` is the last reply's: "tool_use" means the model still asked for tools when
    the rounds were used up (those calls were not run, and ``text`` may be empty);
    "guardrail_intervened" means ``text`` is the guardrail's message."""

    text: str
    model_id: str
    usage: Usage  # summed over every model call of the run
    stop_reason: str | None
    calls: list[ToolCall] = field(default_factory=list)
    sources: SourceBook = field(default_factory=SourceBook)


def execute(
    tools: Sequence[Tool], name: str, raw_input: Any, *, sources: SourceBook
) -> tuple[dict[str, Any], Status, ToolCall]:
    """Run one tool call the model asked for: (content for the model, status, trace).

    An unknown tool or arguments that do not validate are answered with an error and nothing
    runs. A tool that raises a :class:`KotaeError` ran but failed: the model gets its
    user-safe message. Any other exception is a bug and propagates.
    """
    arguments = raw_input if isinstance(raw_input, dict) else {"input": raw_input}
    tool = next((t for t in tools if t.name == name), None)
    if tool is None:
        known = ", ".join(t.name for t in tools)
        message = f"there is no tool named {name[:64]!r}; the tools are: {known}"
        return {"error": message}, "error", ToolCall(name[:64], arguments, ok=False, error=message)
    try:
        parsed = tool.input_model.model_validate(raw_input)
    except ValidationError as exc:
        problems = validation_problems(exc)
        content = {"error": f"invalid arguments for {name}; nothing was run", "problems": problems}
        return content, "error", ToolCall(name, arguments, ok=False, error=_bounded("; ".join(problems)))
    try:
        output = tool.run(parsed)
    except KotaeError as exc:
        content = {"error": f"{name} failed: {exc.user_message}"}
        return content, "error", ToolCall(name, arguments, ok=False, error=_bounded(str(exc)))
    return sources.render(output), "success", ToolCall(name, arguments, ok=True, output=output)


def validation_problems(exc: ValidationError) -> list[str]:
    """Each validation error as 'field.path: message', at most ``MAX_REPORTED_ERRORS``, each bounded."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False)[:MAX_REPORTED_ERRORS]:
        where = ".".join(str(part) for part in error["loc"]) or "(arguments)"
        problems.append(_bounded(f"{where}: {error['msg']}", 300))
    hidden = exc.error_count() - len(problems)
    if hidden > 0:
        problems.append(f"… and {hidden} more")
    return problems


def _bounded(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _escaped(value: Any) -> Any:
    """Every string (and key) in a JSON value escaped with :func:`escape_markup`."""
    if isinstance(value, str):
        return escape_markup(value)
    if isinstance(value, Mapping):
        return {escape_markup(k): _escaped(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_escaped(v) for v in value]
    return value


def _json_safe(content: dict[str, Any]) -> dict[str, Any]:
    """The content as plain JSON values (dates become text), as the Converse json block needs."""
    return json.loads(json.dumps(content, ensure_ascii=False, default=str))


def tool_config(tools: Sequence[Tool]) -> dict[str, Any]:
    """The Converse ``toolConfig``: one ``toolSpec`` per tool, with its input model's JSON schema.

    References to ``$defs`` are inlined, so the schema is one self-contained object whatever
    JSON Schema features the model provider resolves.
    """
    names = [t.name for t in tools]
    if not tools or len(set(names)) != len(names):
        raise ConfigError(f"tools need distinct names and at least one tool: {names}")
    return {
        "tools": [
            {
                "toolSpec": {
                    "name": tool.name,
                    "description": tool.description,
                    "inputSchema": {"json": input_schema(tool.input_model)},
                }
            }
            for tool in tools
        ]
    }


def input_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON schema with every local ``$ref`` replaced by its definition."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})
    return _inline(schema, definitions, ())


def _inline(node: Any, definitions: dict[str, Any], seen: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_inline(v, definitions, seen) for v in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        name = ref.removeprefix("#/$defs/")
        if name in seen or name not in definitions:
            raise ConfigError(f"tool input schema: cannot inline {ref} (recursive or missing)")
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return {**_inline(copy.deepcopy(definitions[name]), definitions, (*seen, name)), **rest}
    return {k: _inline(v, definitions, seen) for k, v in node.items()}
