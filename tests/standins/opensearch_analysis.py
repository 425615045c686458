"""The analysis settings check of the OpenSearch stand-in's create-index: what a cluster refuses
when an index names an analysis component that no installed plugin provides.

A cluster builds an index's analysis before its mapping, in this order (OpenSearch's
AnalysisRegistry): character filters, tokenizers and token filters defined in ``settings.
analysis`` (a type no module or plugin registers: ``Unknown tokenizer type [t] for [name]``), then
the analyzers (a custom analyzer naming a component that is neither defined nor built in:
``Custom Analyzer [a] failed to find tokenizer under name [t]``), then the mapping's text fields
(an analyzer that is not configured: ``analyzer [a] has not been configured in mappings``).

The stand-in knows which component names belong to which analysis plugin (the plugin pages
linked below); every other name counts as one of OpenSearch's built-in components, so a body is
refused only for a plugin that is not installed, an undefined analyzer, or a reference to
nothing. ``OpenSearchStandIn(plugins=frozenset())`` is a cluster without analysis plugins, as
an OpenSearch Serverless collection would be if it did not bundle kuromoji.
https://docs.opensearch.org/latest/install-and-configure/additional-plugins/index/
"""

from __future__ import annotations

from typing import Any

from tests.standins.opensearch_errors import ApiError

# Components per plugin and kind: https://github.com/opensearch-project/OpenSearch/tree/main/plugins
PLUGIN_COMPONENTS: dict[str, dict[str, frozenset[str]]] = {
    "analysis-kuromoji": {
        "tokenizer": frozenset({"kuromoji_tokenizer"}),
        "filter": frozenset(
            {
                "kuromoji_baseform",
                "kuromoji_part_of_speech",
                "kuromoji_readingform",
                "kuromoji_stemmer",
                "kuromoji_number",
                "kuromoji_completion",
                "ja_stop",
            }
        ),
        "char_filter": frozenset({"kuromoji_iteration_mark"}),
        "analyzer": frozenset({"kuromoji"}),
    },
    "analysis-icu": {
        "tokenizer": frozenset({"icu_tokenizer"}),
        "filter": frozenset({"icu_normalizer", "icu_folding", "icu_collation", "icu_transform"}),
        "char_filter": frozenset({"icu_normalizer"}),
        "analyzer": frozenset({"icu_analyzer"}),
    },
    "analysis-nori": {
        "tokenizer": frozenset({"nori_tokenizer"}),
        "filter": frozenset({"nori_part_of_speech", "nori_readingform", "nori_number"}),
        "char_filter": frozenset(),
        "analyzer": frozenset({"nori"}),
    },
}
# What a managed domain bundles (and the Serverless plugin list names): all of the above.
ALL_PLUGINS = frozenset(PLUGIN_COMPONENTS)
KINDS = ("char_filter", "tokenizer", "filter")
# https://docs.opensearch.org/latest/analyzers/supported-analyzers/index/ and language analyzers
BUILT_IN_ANALYZERS = frozenset(
    {"standard", "simple", "whitespace", "stop", "keyword", "pattern", "fingerprint", "cjk", "english",
     "arabic", "armenian", "basque", "bengali", "brazilian", "bulgarian", "catalan", "czech", "danish",
     "dutch", "estonian", "finnish", "french", "galician", "german", "greek", "hindi", "hungarian",
     "indonesian", "irish", "italian", "latvian", "lithuanian", "norwegian", "persian", "portuguese",
     "romanian", "russian", "sorani", "spanish", "swedish", "thai", "turkish"}
)


def _missing(kind: str, name: str, plugins: frozenset[str]) -> bool:
    """Whether ``name`` is a ``kind`` component of a plugin that is not installed."""
    return any(name in parts[kind] for plugin, parts in PLUGIN_COMPONENTS.items() if plugin not in plugins)


def _analysis(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings.analysis`` or ``settings.index.analysis`` (both forms are accepted)."""
    return settings.get("analysis") or settings.get("index", {}).get("analysis") or {}


def check(settings: dict[str, Any], mappings: dict[str, Any], plugins: frozenset[str]) -> None:
    """Refuse a create-index body as a cluster with only ``plugins`` installed would."""
    analysis = _analysis(settings)
    for kind in KINDS:
        for name, spec in (analysis.get(kind) or {}).items():
            if _missing(kind, str(spec.get("type")), plugins):
                raise ApiError(400, "illegal_argument_exception", f"Unknown {kind} type [{spec['type']}] for [{name}]")
    analyzers = analysis.get("analyzer") or {}
    for name, spec in analyzers.items():
        _check_analyzer(name, spec, analysis, plugins)
    configured = set(analyzers) | BUILT_IN_ANALYZERS | {
        a for plugin in plugins for a in PLUGIN_COMPONENTS[plugin]["analyzer"]
    }
    for used in _field_analyzers(mappings.get("properties", {})):
        if used not in configured:
            raise ApiError(400, "mapper_parsing_exception", f"analyzer [{used}] has not been configured in mappings")


def _check_analyzer(name: str, spec: dict[str, Any], analysis: dict[str, Any], plugins: frozenset[str]) -> None:
    kind = spec.get("type", "custom")
    if kind != "custom":
        if _missing("analyzer", str(kind), plugins):
            raise ApiError(400, "illegal_argument_exception", f"Unknown analyzer type [{kind}] for [{name}]")
        return
    if "tokenizer" not in spec:
        raise ApiError(
            400, "illegal_argument_exception", f"analyzer [{name}] must specify either an analyzer type, or a tokenizer"
        )
    chain = {"tokenizer": [spec["tokenizer"]], "char_filter": spec.get("char_filter", []), "filter": spec.get("filter", [])}
    for part, names in chain.items():
        for component in names:
            if component not in (analysis.get(part) or {}) and _missing(part, component, plugins):
                raise ApiError(
                    400,
                    "illegal_argument_exception",
                    f"Custom Analyzer [{name}] failed to find {part} under name [{component}]",
                )


def _field_analyzers(properties: dict[str, Any]) -> list[str]:
    """Every analyzer the text fields (and their multi-fields and inner objects) name."""
    out = []
    for spec in properties.values():
        out += [spec[key] for key in ("analyzer", "search_analyzer", "search_quote_analyzer") if key in spec]
        out += _field_analyzers(spec.get("fields", {})) + _field_analyzers(spec.get("properties", {}))
    return out
