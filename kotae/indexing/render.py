"""Items to documents: a per-kind Jinja template, a generic fallback, chunks with stable ids.

Document templates live in prompts/documents/<kind>.j2 and define two blocks, ``title`` and
``text``. An item whose kind has no template, or whose attributes do not fit its template, is
rendered by ``generic.j2`` so nothing is dropped.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2
from boto3.dynamodb.types import Binary

from kotae.models import Document, Item
from kotae.records.facets import item_facets
from kotae.records.schema import DEFAULT_SCHEMA, ItemSchema
from kotae.templates import make_environment, render_block
from kotae.text import chunk_text, detect_language

GENERIC = "generic"


def _plain(value: Any) -> Any:
    """Values a template can print: sets sorted, bytes summarized, Decimals as numbers."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((_plain(v) for v in value), key=str)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Binary):  # boto3's wrapper for DynamoDB binary values
        value = value.value
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    if isinstance(value, Decimal):
        if not value.is_finite():
            return float(value)
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 10_000:
        return f"<integer of {value.bit_length()} bits>"
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def content_hash(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()[:32]


def chunk_id(item_key: str, index: int) -> str:
    """Stable: the same key and position always give the same id, so re-ingesting overwrites."""
    return f"{item_key}#{index:04d}"


class DocumentRenderer:
    """Renders items with the templates in ``<prompts_dir>/documents``."""

    def __init__(
        self,
        prompts_dir: Path,
        *,
        chunk_chars: int = 800,
        chunk_overlap: int = 100,
        schema: ItemSchema = DEFAULT_SCHEMA,
    ) -> None:
        self.schema = schema
        self._env = make_environment(jinja2.FileSystemLoader(str(prompts_dir / "documents")))
        self._chunk_chars = chunk_chars
        self._chunk_overlap = chunk_overlap
        self._templates: dict[str, jinja2.Template | None] = {}

    def _template(self, kind: str) -> jinja2.Template | None:
        if kind not in self._templates:
            try:
                self._templates[kind] = self._env.get_template(f"{kind}.j2")
            except jinja2.TemplateNotFound:
                self._templates[kind] = None
        return self._templates[kind]

    def render_text(self, item: Item) -> tuple[str, str, str]:
        """(title, text, template used) for an item."""
        variables = {"key": item.key, "kind": item.kind, "item": _plain(item.attributes)}
        template = self._template(item.kind) if "/" not in item.kind else None
        if template is not None:
            try:
                return (
                    render_block(template, "title", variables),
                    render_block(template, "text", variables),
                    item.kind,
                )
            except (jinja2.UndefinedError, TypeError, ValueError, KeyError, AttributeError):
                pass  # the item does not have its kind's shape: the generic template keeps it
        generic = self._template(GENERIC)
        assert generic is not None, "prompts/documents/generic.j2 is part of kotae"
        return render_block(generic, "title", variables), render_block(generic, "text", variables), GENERIC

    def render(self, item: Item, *, version: str | None = None) -> list[Document]:
        """All chunks of an item. An item always yields at least one document."""
        title, text, _ = self.render_text(item)
        attrs = item.attributes
        pieces = chunk_text(text, self._chunk_chars, self._chunk_overlap) or [title or item.key]
        lang = (
            attrs.get("lang") if isinstance(attrs.get("lang"), str) else detect_language(title + " " + text)
        )
        url = attrs.get("url") if isinstance(attrs.get("url"), str) else None
        updated = attrs.get("updated_at")
        facets, timestamp = item_facets(self.schema.spec(item.kind), attrs)
        return [
            Document(
                chunk_id=chunk_id(item.key, index),
                item_key=item.key,
                kind=item.kind,
                title=title or item.key,
                text=piece,
                chunk_index=index,
                url=url,
                updated_at=str(updated) if updated is not None else None,
                scopes=item.scopes,
                lang=lang,
                content_hash=content_hash(title, piece),
                version=version,
                facets=facets,
                timestamp=timestamp,
            )
            for index, piece in enumerate(pieces)
        ]
