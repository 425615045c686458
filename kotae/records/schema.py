"""The item schema: which attribute names a kind, how a team's attribute names map onto a kind's
fields, and which fields are facets (exact-match, filterable, sortable metadata).

A team with an existing table writes a small file (``KOTAE_SCHEMA_FILE``, YAML or JSON)::

    kind_attribute: Type          # default: kind
    default_kind: record          # for items without that attribute; default: unknown
    kinds:
      record:
        fields: {execution_id: ExecutionId, status: State, record_id: RecordId}
        facets: [execution_id, task_name, status, prompt_version, record_id]
        timestamp: updated_at
        values:                    # words people use for a facet's values
          status: {failed: [失敗, エラー, error]}

Unlisted kinds have no facets; ``record`` has the defaults below unless the file says otherwise.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kotae.errors import ConfigError
from kotae.records.query import FACET_NAME

DEFAULT_RECORD_FACETS = ("execution_id", "task_name", "status", "prompt_version", "record_id")

# Words for record statuses, in English and Japanese, formal and colloquial (the record parser
# also forgives one typo in an English word). A team adds its own in the schema file.
DEFAULT_STATUS_WORDS: dict[str, list[str]] = {
    "failed": ["failed", "failure", "failures", "fail", "fails", "error", "errors", "errored", "crashed",
               "NG", "失敗", "エラー", "異常", "落ちた", "コケた", "こけた", "ダメだった", "だめだった"],
    "needs_review": ["needs_review", "needs review", "need review", "review", "to review", "flagged",
                     "pending review", "awaiting review", "waiting for review", "waiting for human review",
                     "under review", "manual review", "human review", "review needed",
                     "要確認", "レビュー待ち", "確認待ち", "要レビュー", "要チェック", "要対応", "確認が必要"],
    "succeeded": ["succeeded", "success", "successes", "successful", "successfully", "succeed", "succeeds",
                  "passed", "completed", "ok", "成功", "正常", "完了", "うまくいった"],
}


class KindSpec(BaseModel):
    """One kind's fields, facets and timestamp."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # kind field name -> the table's attribute name
    fields: dict[str, str] = Field(default_factory=dict)
    facets: tuple[str, ...] = ()
    timestamp: str | None = None
    # facet -> canonical value -> words that mean it
    values: dict[str, dict[str, list[str]]] = Field(default_factory=dict)

    @field_validator("facets")
    @classmethod
    def _facet_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not FACET_NAME.match(name):
                raise ValueError(f"{name!r} is not a facet name (lower case letters, digits and _)")
        return value


def _record_defaults() -> KindSpec:
    return KindSpec(
        facets=DEFAULT_RECORD_FACETS, timestamp="updated_at", values={"status": DEFAULT_STATUS_WORDS}
    )


class ItemSchema(BaseModel):
    """How items of a table are read: the kind attribute, the default kind, each kind's spec."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind_attribute: str = "kind"
    default_kind: str = "unknown"
    kinds: dict[str, KindSpec] = Field(default_factory=lambda: {"record": _record_defaults()})

    def spec(self, kind: str) -> KindSpec:
        return self.kinds.get(kind) or KindSpec()

    def facet_kinds(self) -> dict[str, KindSpec]:
        """Kinds that have facets (the ones record queries can ask about)."""
        return {name: spec for name, spec in self.kinds.items() if spec.facets}

    def map_attributes(self, kind: str, attributes: dict[str, Any]) -> dict[str, Any]:
        """The kind's field names in place of the team's attribute names (others kept as they are)."""
        spec = self.kinds.get(kind)
        if spec is None or not spec.fields:
            return attributes
        mapped = dict(attributes)
        for field, source in spec.fields.items():
            if source in attributes and field != source:
                mapped[field] = mapped.pop(source)
        return mapped


DEFAULT_SCHEMA = ItemSchema()


def load_schema(
    path: Path | None, *, kind_attribute: str | None = None, default_kind: str | None = None
) -> ItemSchema:
    """The schema file at ``path`` (or the defaults), with the two settings that override it."""
    schema = _read(str(path)) if path is not None else DEFAULT_SCHEMA
    changes = {k: v for k, v in {"kind_attribute": kind_attribute, "default_kind": default_kind}.items() if v}
    return schema.model_copy(update=changes) if changes else schema


@lru_cache(maxsize=8)
def _read(path: str) -> ItemSchema:
    try:
        raw_text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"KOTAE_SCHEMA_FILE: cannot read {path} ({exc.strerror or exc})") from exc
    try:
        if path.endswith((".yaml", ".yml")):
            import yaml

            raw = yaml.safe_load(raw_text)
        else:
            raw = json.loads(raw_text)
    except Exception as exc:  # yaml.YAMLError or json.JSONDecodeError: both are the file's fault
        raise ConfigError(f"KOTAE_SCHEMA_FILE: {path} is not valid YAML/JSON ({exc})") from exc
    return parse_schema(raw or {}, source=path)


def parse_schema(raw: Any, *, source: str = "the schema") -> ItemSchema:
    """A schema from its parsed file. A ``record`` entry without facets keeps the default facets."""
    if not isinstance(raw, dict):
        raise ConfigError(f"KOTAE_SCHEMA_FILE: {source} must be a mapping with kinds:")
    kinds = raw.get("kinds") or {}
    if isinstance(kinds, dict) and "record" not in kinds:
        kinds = {**kinds, "record": _record_defaults().model_dump()}
    if isinstance(kinds, dict) and isinstance(kinds.get("record"), dict):
        defaults = _record_defaults().model_dump()
        record = dict(kinds["record"])
        record.setdefault("facets", defaults["facets"])
        record.setdefault("timestamp", defaults["timestamp"])
        values = dict(defaults["values"])
        values.update(record.get("values") or {})
        record["values"] = values
        kinds = {**kinds, "record": record}
    try:
        return ItemSchema.model_validate({**raw, "kinds": kinds} if kinds else raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"KOTAE_SCHEMA_FILE: {source}: {problems}") from exc
