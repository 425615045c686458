"""Which Japanese analysis an OpenSearch index gets: kuromoji, or CJK bigrams where the cluster
refuses kuromoji.

kuromoji (the analysis-kuromoji plugin) is bundled in every managed domain ("Plugins by engine
version", https://docs.aws.amazon.com/opensearch-service/latest/developerguide/supported-plugins.html)
and listed among the plugins OpenSearch Serverless collections come prepackaged with ("Supported
operations and plugins in Amazon OpenSearch Serverless", https://docs.aws.amazon.com/opensearch-
service/latest/developerguide/serverless-genref.html#serverless-plugins). A self-hosted cluster
may lack it. A create-index request naming a component no plugin provides is refused with a 400
``illegal_argument_exception`` (``Unknown tokenizer type [kuromoji_tokenizer] for [...]``, or
``Custom Analyzer [...] failed to find filter under name [kuromoji_baseform]``); the store then
creates the index once more with every analyzer that used kuromoji replaced by the standard
tokenizer + ``cjk_width`` + ``lowercase`` + ``cjk_bigram`` (built into OpenSearch:
https://docs.opensearch.org/latest/analyzers/token-filters/cjk-bigram/), keeping the analyzers'
names so that the mapping and the queries stay the same, and logs a warning.

Each index records its Japanese analysis in its mapping's ``_meta`` (``{"kotae":
{"japanese_analysis": "kuromoji" | "cjk_bigram"}}``); an index made before kotae recorded it
was made with kuromoji, the only analysis it had.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Iterator
from typing import Any, Literal

from opensearchpy import OpenSearch, RequestError

from kotae.providers import opensearch_lexical as lexical

JapaneseAnalysis = Literal["kuromoji", "cjk_bigram"]
KUROMOJI: JapaneseAnalysis = "kuromoji"
CJK_BIGRAM: JapaneseAnalysis = "cjk_bigram"
META = "kotae"
CJK_BIGRAM_ANALYZER = {
    "type": "custom",
    "tokenizer": "standard",
    "filter": ["cjk_width", "lowercase", "cjk_bigram"],
}
# The analysis-kuromoji plugin's components: tokenizer, filters, char filter and analyzer.
# https://github.com/opensearch-project/OpenSearch/tree/main/plugins/analysis-kuromoji
_KUROMOJI_NAME = re.compile(r"kuromoji\w*|ja_stop")
# How OpenSearch refuses a component no module or plugin provides: a defined type it does not know
# (AnalysisRegistry), or a name an analyzer uses that is neither defined nor built in.
_REFUSAL = re.compile(
    r"(?:Unknown (?:tokenizer|filter|char_filter|analyzer) type"
    r"|failed to find (?:global )?(?:tokenizer|filter|char_filter) under(?: name)?) \[([^\]]+)\]"
)
_KINDS = ("tokenizer", "filter", "char_filter")

log = logging.getLogger(__name__)


def is_kuromoji(name: object) -> bool:
    return isinstance(name, str) and _KUROMOJI_NAME.fullmatch(name) is not None


def with_meta(body: dict[str, Any], analysis: JapaneseAnalysis) -> dict[str, Any]:
    """``body`` with its Japanese analysis recorded in the mapping's ``_meta``."""
    body.setdefault("mappings", {}).setdefault("_meta", {})[META] = {"japanese_analysis": analysis}
    return body


def japanese_analysis(mappings: dict[str, Any]) -> JapaneseAnalysis:
    """What an index's mapping (as GET _mapping returns it) records; kuromoji when nothing is."""
    recorded = (mappings.get("_meta") or {}).get(META)
    return (
        CJK_BIGRAM
        if isinstance(recorded, dict) and recorded.get("japanese_analysis") == CJK_BIGRAM
        else KUROMOJI
    )


def _reasons(error: Any) -> Iterator[str]:
    """The reasons of an OpenSearch error object, its root causes and its caused_by chain."""
    if not isinstance(error, dict):
        return
    if isinstance(error.get("reason"), str):
        yield error["reason"]
    for cause in error.get("root_cause") or []:
        yield from _reasons(cause)
    yield from _reasons(error.get("caused_by"))


def refused_kuromoji(exc: RequestError) -> str | None:
    """The kuromoji component a 400 answer to create-index says the cluster does not have."""
    info = exc.info if isinstance(exc.info, dict) else {}
    for reason in _reasons(info.get("error")):
        for match in _REFUSAL.finditer(reason):
            if is_kuromoji(match.group(1)):
                return match.group(1)
    return None


def _chain(spec: dict[str, Any]) -> list[Any]:
    """The components an analyzer names: its tokenizer, filters and char filters."""
    return [spec.get("tokenizer"), *spec.get("filter", []), *spec.get("char_filter", [])]


def _uses_kuromoji(spec: dict[str, Any], defined: dict[str, dict[str, Any]]) -> bool:
    """Whether an analyzer's type or components are kuromoji's (built in by name, or defined in
    the settings with a kuromoji type)."""
    if spec.get("type", "custom") != "custom":
        return is_kuromoji(spec.get("type"))
    names = _chain(spec)
    types = [components[n].get("type") for n in names for components in defined.values() if n in components]
    return any(is_kuromoji(n) for n in names + types)


def cjk_bigram_body(body: dict[str, Any]) -> dict[str, Any]:
    """A copy of an index body without kuromoji: its analyzers that use kuromoji become the CJK
    bigram analyzer (same names), and the components of a kuromoji type, or used by those
    analyzers only, are dropped."""
    out = copy.deepcopy(body)
    analysis = out.get("settings", {}).get("analysis", {})
    defined = {kind: analysis.get(kind) or {} for kind in _KINDS}
    analyzers = analysis.get("analyzer") or {}
    replaced = {name for name, spec in analyzers.items() if _uses_kuromoji(spec, defined)}
    orphans = {n for name in replaced for n in _chain(analyzers[name])}
    kept = [spec for name, spec in analyzers.items() if name not in replaced]
    orphans -= {n for spec in kept + list((analysis.get("normalizer") or {}).values()) for n in _chain(spec)}
    for kind, components in defined.items():
        for name in [n for n, spec in components.items() if n in orphans or is_kuromoji(spec.get("type"))]:
            del components[name]
        if kind in analysis and not components:
            del analysis[kind]
    for name in replaced:
        analyzers[name] = copy.deepcopy(CJK_BIGRAM_ANALYZER)
    return with_meta(out, CJK_BIGRAM)


def create_index(client: OpenSearch, name: str, body: dict[str, Any]) -> JapaneseAnalysis:
    """``PUT <name>`` with ``body`` (kuromoji analysis); if the cluster refuses kuromoji, once more
    with CJK bigrams, logging a warning. Any other refusal is raised (RequestError)."""
    try:
        client.indices.create(index=name, body=body)
        return KUROMOJI
    except RequestError as exc:
        component = refused_kuromoji(exc)
        if component is None:
            raise
    log.warning(
        "OpenSearch has no kuromoji (it refused %s): index %s analyses Japanese with CJK bigrams "
        "instead, which finds fewer Japanese matches; install the analysis-kuromoji plugin and run "
        "`kotae reindex` to use kuromoji",
        component,
        name,
        extra={"index": name, "refused": component, "japanese_analysis": CJK_BIGRAM},
    )
    client.indices.create(index=name, body=cjk_bigram_body(body))
    return CJK_BIGRAM


def report(index: str, mappings: dict[str, Any]) -> JapaneseAnalysis:
    """The Japanese analysis of an existing index, logged when it is the CJK bigram fallback (at
    each ensure_index, so a deployment that fell back keeps saying so until it is reindexed), and
    a warning when the index predates the lexical subfields (opensearch_lexical.report)."""
    lexical.report(index, mappings)
    used = japanese_analysis(mappings)
    if used == CJK_BIGRAM:
        log.warning(
            "index %s analyses Japanese with CJK bigrams (the cluster refused kuromoji when it was "
            "created); run `kotae reindex` once analysis-kuromoji is installed",
            index,
            extra={"index": index, "japanese_analysis": used},
        )
    return used
