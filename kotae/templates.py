"""The Jinja environment every kotae template is rendered in (documents and prompts alike).

Templates are data, not code: they come from files and from the ``prompt_templates`` table, and
whoever can write that table must not get the process's role. So every template is rendered in
Jinja's immutable sandbox (no ``__globals__``, no mutating calls), and ``compile_template``
refuses, before anything runs, a template that reaches for a private attribute at all.
https://jinja.palletsprojects.com/en/stable/sandbox/
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from kotae.errors import ConfigError, PromptRenderError

_PACKAGED = Path(__file__).resolve().parent / "_prompts"
_SOURCE_TREE = Path(__file__).resolve().parent.parent / "prompts"


def default_prompts_dir(configured: Path | None = None) -> Path:
    """prompts/ as configured, as packaged in the wheel, or in the source tree (editable install)."""
    for candidate in (configured, _PACKAGED, _SOURCE_TREE):
        if candidate is not None and candidate.is_dir():
            return candidate
    where = configured or _SOURCE_TREE
    raise ConfigError(f"prompts directory {where} does not exist; set KOTAE_PROMPTS_DIR")


# Characters that could open, close or quote prompt markup, including their full-width and
# small-form look-alikes, and what they become inside data.
_MARKUP = str.maketrans(
    {
        "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
        "＜": "&lt;", "＞": "&gt;", "﹤": "&lt;", "﹥": "&gt;", "＂": "&quot;",
    }
)  # fmt: skip


def escape_markup(value: Any) -> str:
    """Text made safe to place in a prompt's markup, as element content or attribute value.

    Retrieved entries, the question and the history go into ``<source id="S1" key="…">…</source>``
    style blocks. After this, data holds no character that opens or closes a tag or ends an
    attribute (``<``, ``>``, ``"``, ``&`` and their full-width forms become entities) and no
    invisible format character (zero-width joiners, bidi controls) that could hide a near-miss
    like ``</ source>``, so no content can end its block or add attributes.
    """
    text = "" if value is None else str(value)
    text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    return text.translate(_MARKUP)


def _tojson(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def make_environment(loader: jinja2.BaseLoader | None = None) -> jinja2.Environment:
    """Sandboxed and strict: a variable the caller did not pass is an error, never an empty string."""
    env = ImmutableSandboxedEnvironment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # plain text for models and search, not HTML
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["tojson"] = _tojson
    env.filters["markup"] = escape_markup
    return env


def render_block(template: jinja2.Template, block: str, variables: dict[str, Any]) -> str:
    """Render one named block of a template (document templates have 'title' and 'text')."""
    context = template.new_context(variables)
    return "".join(template.blocks[block](context)).strip()


def _private_names(tree: nodes.Template) -> list[str]:
    """Attribute and subscript names a template uses that start with an underscore."""
    found = [node.attr for node in tree.find_all(nodes.Getattr) if node.attr.startswith("_")]
    for node in tree.find_all(nodes.Getitem):
        if isinstance(node.arg, nodes.Const) and str(node.arg.value).startswith("_"):
            found.append(str(node.arg.value))
    return found


def compile_template(env: jinja2.Environment, text: str, source: str) -> jinja2.Template:
    """Compile a template, refusing bad syntax and any reach into private attributes
    (``cycler.__init__``): the sandbox would stop those at render time, this stops them at
    publish and load time, with the template's name in the error."""
    try:
        tree = env.parse(text)
    except jinja2.TemplateSyntaxError as exc:
        raise PromptRenderError(f"{source}: line {exc.lineno}: {exc.message}") from exc
    private = _private_names(tree)
    if private:
        raise PromptRenderError(
            f"{source}: templates may not use private attributes ({', '.join(sorted(set(private)))})"
        )
    return env.from_string(text)
