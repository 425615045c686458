"""Mappings of the OpenSearch stand-in, as documented (https://docs.opensearch.org/latest/mappings/):
``dynamic`` (``strict``, ``false``, ``true``) inherited by inner objects, ``dynamic_templates``
(``path_match``/``match`` with ``*``, ``match_mapping_type``, first match wins), the default
dynamic mappings with date detection, the field types kotae maps (keyword with ``ignore_above``,
text, integer, boolean, ``date`` as ``strict_date_optional_time||epoch_millis`` with
``ignore_malformed``, knn_vector, object), and ``PUT _mapping`` merges: new fields are added,
objects merged, a mapped field keeps its type, and a given ``dynamic_templates`` list replaces
the stored one (as a given ``_meta`` does). Mappings are kept in the form GET _mapping answers (``dynamic`` as a string,
objects without ``"type": "object"``).

Request bodies are checked against the specification's TypeMapping, Property and
DynamicTemplate (``_common.mapping.yaml``) and the put-mapping body (``indices.yaml``).
"""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from typing import Any

from tests.standins.opensearch_errors import ApiError
from tests.standins.opensearch_shapes import (
    BOOLEAN,
    INTEGER,
    STRING,
    Shape,
    ShapeError,
    enum,
    kind,
    list_of,
    map_of,
    obj,
)

# Property parameters the specification documents for every field (PropertyBase, CorePropertyBase,
# DocValuesPropertyBase), then per type; the unmodelled ones change matching in ways the stand-in
# does not reproduce.
_ANY = kind(str, int, float, bool, dict, list)
_BASE = {"type", "meta", "ignore_above", "fields", "similarity", "store", "doc_values", "properties", "dynamic"}
_PARAMETERS = {
    "keyword": {"boost", "eager_global_ordinals", "index_options", "norms", "split_queries_on_whitespace"},
    "text": {"analyzer", "boost", "eager_global_ordinals", "fielddata", "index_options", "index_phrases",
             "norms", "position_increment_gap", "search_analyzer", "search_quote_analyzer", "term_vector"},
    "date": {"boost", "ignore_malformed", "precision_step"},
    "boolean": {"boost"},
    "integer": {"boost", "ignore_malformed"},
    "long": {"boost", "ignore_malformed"},
    "float": {"boost", "ignore_malformed"},
    "knn_vector": {"dimension", "space_type", "data_type", "mode", "compression_level", "method", "model_id"},
    "object": set(),
}
_UNMODELLED = {"copy_to", "index", "null_value", "normalizer", "format", "locale", "coerce", "enabled",
               "fielddata_frequency_filter", "index_prefixes"}
DYNAMIC = enum(True, False, "true", "false", "strict")


def check_property(spec: Any, path: str) -> None:
    """A field mapping: a known type with documented parameters (mapper_parsing_exception)."""
    kind(dict)(spec, path)
    field_type = spec.get("type", "object")
    if field_type not in _PARAMETERS:
        raise ShapeError(path, f"No handler for type [{field_type}] declared on field [{path}]", "mapper_parsing_exception")
    fields = {name: _ANY for name in _BASE | _PARAMETERS[field_type]}
    fields.update(type=STRING, ignore_above=INTEGER, dynamic=DYNAMIC, properties=PROPERTIES, fields=PROPERTIES)
    if field_type == "date":
        fields["ignore_malformed"] = BOOLEAN
    obj(fields, unmodelled=_UNMODELLED, error="mapper_parsing_exception")(spec, path)


PROPERTIES = map_of(check_property)
DYNAMIC_TEMPLATE = obj(
    {"mapping": check_property, "match": STRING, "path_match": STRING, "match_mapping_type": STRING},
    required=["mapping"],
    unmodelled=["match_pattern", "path_unmatch", "unmatch"],
    error="mapper_parsing_exception",
)
DYNAMIC_TEMPLATES = list_of(map_of(DYNAMIC_TEMPLATE, at_most_one=True))
# _meta: the application's own metadata, stored and returned as given, replaced by PUT _mapping.
_MAPPING_FIELDS: dict[str, Shape] = {
    "dynamic": DYNAMIC, "dynamic_templates": DYNAMIC_TEMPLATES, "properties": PROPERTIES, "_meta": kind(dict),
}
_MAPPING_UNMODELLED = ["date_detection", "dynamic_date_formats", "numeric_detection", "_field_names",
                       "_routing", "_source", "_size", "enabled", "all_field", "index_field", "_data_stream_timestamp"]
TYPE_MAPPING = obj(_MAPPING_FIELDS, unmodelled=_MAPPING_UNMODELLED, error="mapper_parsing_exception")
CREATE_INDEX = obj({"settings": kind(dict), "mappings": TYPE_MAPPING}, unmodelled=["aliases"])

_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2}(T\d{2}(:\d{2}(:\d{2}([.,]\d{1,9})?)?)?)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?")
_DETECTED = re.compile(r"\d{4}-\d{2}-\d{2}.*|\d{4}/\d{2}/\d{2}.*")
STRING_DEFAULT = {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}


def epoch_millis(value: Any, *, round_up: bool = False) -> int | None:
    """The instant of a date value under ``strict_date_optional_time||epoch_millis`` (a time
    without an offset is UTC); None when it is malformed. ``round_up`` (range ``gt``/``lte``)
    fills missing components with their largest values, as range queries do
    (https://docs.opensearch.org/latest/query-dsl/term/range/, missing date components)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str):
        return None
    if not _DATE.fullmatch(value):
        return int(value) if re.fullmatch(r"-?\d+", value) else None
    local = re.split(r"Z|[+-]\d{2}:?\d{2}$", value[10:])[0] if len(value) > 10 else ""
    digits = 10 + len(local) if len(value) > 10 else len(value)
    padded = value + "-01-01"[len(value) - 4 :] if len(value) < 10 else value
    try:
        moment = datetime.fromisoformat(padded.replace(",", "."))
    except ValueError:
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    millis = int(moment.replace(microsecond=0).timestamp()) * 1000 + moment.microsecond // 1000
    if not round_up or digits > 19:
        return millis
    if digits <= 7:  # a year, or a month: up to the last millisecond before the next one
        later = moment.replace(year=moment.year + 1) if digits == 4 else _next_month(moment)
        return int(later.timestamp()) * 1000 - 1
    step = {10: 86_400_000, 13: 3_600_000, 16: 60_000, 19: 1000}[digits]
    return millis + step - 1


def _next_month(moment: datetime) -> datetime:
    return moment.replace(year=moment.year + moment.month // 12, month=moment.month % 12 + 1)


def _glob(pattern: str, text: str) -> bool:
    """OpenSearch's simple match: ``*`` is any run of characters, nothing else is special."""
    return re.fullmatch(".*".join(re.escape(part) for part in pattern.split("*")), text) is not None


def _detected_type(value: Any) -> str | None:
    if isinstance(value, list):
        return _detected_type(value[0]) if value else None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, str):
        return "date" if _DETECTED.fullmatch(value) and epoch_millis(value) is not None else "string"
    return None


def _fits(spec: dict[str, Any], value: Any) -> bool:
    field_type = spec["type"]
    if field_type == "knn_vector":
        return isinstance(value, list) and len(value) == spec["dimension"]
    if field_type in ("integer", "long"):
        return isinstance(value, int) and not isinstance(value, bool)
    if field_type == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if field_type == "date":
        return epoch_millis(value) is not None or bool(spec.get("ignore_malformed"))
    return isinstance(value, bool if field_type == "boolean" else str)


def _get_form(spec: dict[str, Any]) -> dict[str, Any]:
    """A mapping as GET _mapping shows it."""
    out = copy.deepcopy(spec)
    if isinstance(out.get("dynamic"), bool):
        out["dynamic"] = "true" if out["dynamic"] else "false"
    if out.get("type") == "object":
        del out["type"]
    if "properties" in out:
        out["properties"] = {name: _get_form(child) for name, child in out["properties"].items()}
    return out


def is_object(spec: dict[str, Any]) -> bool:
    return "type" not in spec


class Mapping:
    """One index's mapping: document checks (with dynamic additions), field lookups, merges."""

    def __init__(self, mappings: dict[str, Any]) -> None:
        self.root = _get_form(mappings)

    def field(self, path: str) -> dict[str, Any] | None:
        node: dict[str, Any] | None = self.root
        for part in path.split("."):
            if node is None:
                return None
            node = node.get("properties", {}).get(part) or node.get("fields", {}).get(part)
        return node

    def values(self, path: str, source: dict[str, Any]) -> list[Any]:
        """What a query can match of a field: keywords within ignore_above, dates as epoch
        milliseconds (malformed ones are not indexed), nothing of an unmapped field."""
        spec = self.field(path)
        if spec is None or is_object(spec):
            return []
        raw: Any = source
        for part in path.split("."):
            raw = raw.get(part) if isinstance(raw, dict) else None
        if raw is None and "." in path:  # a multi-field ("title.ja") indexes its parent's value
            parent = source.get(path.split(".")[0])
            raw = parent if not isinstance(parent, dict) else None
        values = [v for v in (raw if isinstance(raw, list) else [raw]) if v is not None]
        if spec["type"] == "date":
            return [m for v in values if (m := epoch_millis(v)) is not None]
        limit = spec.get("ignore_above")
        return values if limit is None else [v for v in values if not isinstance(v, str) or len(v) <= limit]

    # -- writes ------------------------------------------------------------------------------
    def check(self, source: dict[str, Any]) -> None:
        """Refuse what the mapping refuses; add the mappings dynamic fields get, once the whole
        document fits (a refused document changes no mapping)."""
        additions: list[tuple[dict[str, Any], str, dict[str, Any]]] = []
        self._object(self.root, str(self.root.get("dynamic", "true")), source, "", additions)
        for node, name, spec in additions:
            node.setdefault("properties", {})[name] = spec

    def _object(self, node: dict[str, Any], dynamic: str, source: dict[str, Any], prefix: str, additions: list) -> None:
        for name, value in source.items():
            path, spec = prefix + name, node.get("properties", {}).get(name)
            if spec is None:
                if dynamic == "strict":
                    raise ApiError(
                        400,
                        "strict_dynamic_mapping_exception",
                        f"mapping set to strict, dynamic introduction of [{name}] within [{prefix[:-1] or '_doc'}]"
                        " is not allowed",
                    )
                spec = self._new_field(path, value) if dynamic == "true" else None
                if spec is None:
                    continue
                additions.append((node, name, spec))
            self._value(spec, value, path, str(spec.get("dynamic", dynamic)), additions)

    def _value(self, spec: dict[str, Any], value: Any, path: str, dynamic: str, additions: list) -> None:
        if value is None:
            return
        if is_object(spec):
            if not isinstance(value, dict):
                raise ApiError(
                    400,
                    "mapper_parsing_exception",
                    f"object mapping for [{path}] tried to parse field [{path}] as object, but found a concrete value",
                )
            self._object(spec, dynamic, value, path + ".", additions)
            return
        values = value if isinstance(value, list) and spec["type"] != "knn_vector" else [value]
        if not all(_fits(spec, v) for v in values):
            raise ApiError(400, "mapper_parsing_exception", f"failed to parse field [{path}] of type [{spec['type']}]")

    def _new_field(self, path: str, value: Any) -> dict[str, Any] | None:
        """The mapping a new field gets: the first matching dynamic template, else the default."""
        detected = _detected_type(value)
        if detected is None:
            return None
        for template in self.root.get("dynamic_templates", []):
            ((_, rule),) = template.items()
            if (
                rule.get("match_mapping_type", "*") in ("*", detected)
                and _glob(rule.get("match", "*"), path.rsplit(".", 1)[-1])
                and _glob(rule.get("path_match", "*"), path)
            ):
                return _get_form(rule["mapping"])
        if detected == "object":
            return {}
        defaults = {"string": STRING_DEFAULT, "double": {"type": "float"}}
        return copy.deepcopy(defaults.get(detected, {"type": detected}))

    # -- PUT _mapping ------------------------------------------------------------------------
    def merge(self, body: dict[str, Any]) -> None:
        """Apply a put-mapping body, or refuse all of it."""
        TYPE_MAPPING(body, "mapping")
        merged = copy.deepcopy(self.root)
        _merge_properties(merged, _get_form(body).get("properties", {}), "")
        if "dynamic" in body:
            merged["dynamic"] = _get_form({"dynamic": body["dynamic"]})["dynamic"]
        for replaced in ("dynamic_templates", "_meta"):
            if replaced in body:
                merged[replaced] = copy.deepcopy(body[replaced])
        self.root = merged


# Mapping parameters PUT _mapping may change on an existing field (the rest need a new index).
UPDATABLE_PARAMETERS = frozenset({"ignore_above", "dynamic"})


def _merge_properties(node: dict[str, Any], new: dict[str, Any], prefix: str) -> None:
    properties = node.setdefault("properties", {})
    for name, spec in new.items():
        old = properties.get(name)
        if old is None:
            properties[name] = spec
            continue
        if old.get("type", "object") != spec.get("type", "object"):
            raise ApiError(
                400,
                "illegal_argument_exception",
                f"mapper [{prefix}{name}] cannot be changed from type [{old.get('type', 'object')}] to "
                f"[{spec.get('type', 'object')}]",
            )
        if is_object(old):
            old.update({k: v for k, v in spec.items() if k == "dynamic"})
            _merge_properties(old, spec.get("properties", {}), f"{prefix}{name}.")
            continue
        changed = {k for k in {*old, *spec} if old.get(k) != spec.get(k)}
        if changed - UPDATABLE_PARAMETERS:
            raise ApiError(
                400, "illegal_argument_exception", f"Mapper for [{prefix}{name}] conflicts with existing mapper"
            )
        old.update(spec)
