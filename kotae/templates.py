"""The Jinja environment every kotae template is rendered in (documents and prompts alike)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2

from kotae.errors import ConfigError

_PACKAGED = Path(__file__).resolve().parent / "_prompts"
_SOURCE_TREE = Path(__file__).resolve().parent.parent / "prompts"


def default_prompts_dir(configured: Path | None = None) -> Path:
    """prompts/ as configured, as packaged in the wheel, or in the source tree (editable install)."""
    for candidate in (configured, _PACKAGED, _SOURCE_TREE):
        if candidate is not None and candidate.is_dir():
            return candidate
    where = configured or _SOURCE_TREE
    raise ConfigError(f"prompts directory {where} does not exist; set KOTAE_PROMPTS_DIR")


def _tojson(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def make_environment(loader: jinja2.BaseLoader | None = None) -> jinja2.Environment:
    """Strict: a variable the caller did not pass is an error, never an empty string."""
    env = jinja2.Environment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # plain text for models and search, not HTML
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["tojson"] = _tojson
    return env


def render_block(template: jinja2.Template, block: str, variables: dict[str, Any]) -> str:
    """Render one named block of a template (document templates have 'title' and 'text')."""
    context = template.new_context(variables)
    return "".join(template.blocks[block](context)).strip()
