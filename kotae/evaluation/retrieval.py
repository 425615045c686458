"""Retrieval evaluation on BEIR-format sets: nDCG@k, Recall@k and MRR@k, computed by ir-measures.

corpus.jsonl ({"_id", "title", "text"}), queries.jsonl ({"_id", "text"}) and qrels/test.tsv
(query-id, corpus-id, score, with a header line).

The figures follow the published definitions and are computed by a maintained library
(ir-measures, which hands each measure to the first installed implementation that has it; the
one that ran is reported), so they compare with BEIR and trec_eval tables:

* nDCG@k is trec_eval's ``ndcg_cut.k``, which BEIR reports as NDCG@k: linear gains (the qrel
  score itself), a log2(rank + 1) discount, normalised by the ideal ordering of the qrels.
* Recall@k is trec_eval's ``recall.k`` (BEIR's Recall@k): relevant means score >= 1.
* MRR@k is RR@k: 1 / the rank of the first document with score >= 1 in the top k, else 0.

Edge cases are handled as BEIR handles them. A query with no qrels line is neither searched nor
evaluated. A qrel with score 0 is a judged non-relevant document (no gain, never relevant), so a
query judged only with 0 is evaluated and scores 0 on every measure (a negative score, which
load_beir keeps, likewise gains nothing). A query whose search returns nothing scores 0. Each evaluated query counts in ``queries``, the number the means are taken over.

What is measured is kotae's order. trec_eval re-sorts a run by score (ties by document id,
descending) and MS MARCO's RR by score (ties by id, ascending), so a ranking is handed over with
the scores n, n-1, ..., 1: they restate kotae's order and leave no tie to break.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from kotae.errors import ConfigError, InputError
from kotae.models import Item

if TYPE_CHECKING:  # ir-measures is the 'eval' extra, imported when figures are computed
    from ir_measures import Measure, Provider

Qrels = dict[str, dict[str, int]]
Run = dict[str, dict[str, float]]

METRICS = (("ndcg", "nDCG"), ("recall", "R"), ("mrr", "RR"))
"""kotae's JSON key for each figure (``ndcg@10``) and the ir-measures measure behind it (``nDCG@10``)."""

INSTALL_HINT = "install the 'eval' extra: pip install 'kotae[eval]'"


@dataclass(frozen=True)
class BeirSet:
    corpus: list[dict[str, str]]
    queries: dict[str, str]
    qrels: Qrels


def _jsonl(path: Path) -> Iterable[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{number}: not JSON ({exc.msg})") from exc
            if not isinstance(row, dict) or "_id" not in row:
                raise InputError(f'{path}:{number}: a BEIR line needs an "_id"')
            yield row


def load_beir(directory: Path, split: str = "test") -> BeirSet:
    paths = {name: directory / name for name in ("corpus.jsonl", "queries.jsonl")}
    paths["qrels"] = directory / "qrels" / f"{split}.tsv"
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise InputError(f"not a BEIR directory, missing: {', '.join(missing)}")
    qrels: Qrels = {}
    with paths["qrels"].open(encoding="utf-8") as handle:
        for row in csv.reader(handle, delimiter="\t"):
            if len(row) < 3 or not row[2].strip().lstrip("-").isdigit():
                continue  # the header line, or a blank one
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    queries = {q["_id"]: q["text"] for q in _jsonl(paths["queries.jsonl"]) if q["_id"] in qrels}
    return BeirSet(list(_jsonl(paths["corpus.jsonl"])), queries, qrels)


def corpus_items(corpus: Sequence[dict[str, str]]) -> Iterable[Item]:
    for doc in corpus:
        yield Item(
            key=str(doc["_id"]),
            kind="passage",
            attributes={"title": doc.get("title", ""), "text": doc.get("text", "")},
        )


def ranking_scores(ranked: Sequence[str]) -> dict[str, float]:
    """One query's ranking as a run entry: repeated keys dropped (the first place stays) and the
    scores n, n-1, ..., 1 in kotae's order, so no evaluator can reorder it."""
    unique = list(dict.fromkeys(ranked))
    return {doc: float(len(unique) - place) for place, doc in enumerate(unique)}


def _ir_measures() -> ModuleType:
    try:
        import ir_measures
    except ImportError as exc:
        raise ConfigError(f"retrieval metrics are computed by ir-measures: {INSTALL_HINT}") from exc
    return ir_measures


def choose_providers(measures: Mapping[str, Measure], candidates: Sequence[Provider]) -> dict[str, Provider]:
    """For each figure, the first installed provider in ``candidates`` (ir-measures' default
    order) that computes its measure; a figure none can compute stops the run, naming what to install."""
    chosen: dict[str, Provider] = {}
    for key, measure in measures.items():
        able = [p for p in candidates if p.supports(measure)]
        installed = next((p for p in able if p.is_available()), None)
        if installed is None:
            options = ", ".join(f"{p.NAME} ({p.install_instructions() or 'no install hint'})" for p in able)
            raise ConfigError(
                f"no installed ir-measures provider computes {measure}"
                + (f"; it would be computed by {options}" if options else "")
                + f"; {INSTALL_HINT} (it brings pytrec_eval)"
            )
        chosen[key] = installed
    return chosen


@dataclass(frozen=True)
class Metrics:
    """nDCG@k, Recall@k and MRR@k, each bound to the ir-measures provider that computes it."""

    k: int
    measures: dict[str, Measure]
    providers: dict[str, Provider]
    library: str

    @classmethod
    def at(cls, k: int) -> Metrics:
        """The three measures at ``k`` with their providers; ConfigError when one has none."""
        library = _ir_measures()
        measures = {f"{key}@{k}": library.parse_measure(f"{name}@{k}") for key, name in METRICS}
        providers = choose_providers(measures, library.DefaultPipeline.providers)
        return cls(k, measures, providers, f"ir-measures {library.__version__}")

    def provider_names(self) -> dict[str, str]:
        return {key: provider.NAME for key, provider in self.providers.items()}

    def per_query(self, run: Run, qrels: Qrels) -> dict[str, dict[str, float]]:
        """Each figure for each query of ``qrels``; a query the provider leaves out scores 0."""
        values = {key: dict.fromkeys(qrels, 0.0) for key in self.measures}
        groups: dict[str, list[str]] = {}
        for key, provider in self.providers.items():
            groups.setdefault(provider.NAME, []).append(key)
        for keys in groups.values():
            by_measure = {self.measures[key]: key for key in keys}
            for metric in self.providers[keys[0]].iter_calc(list(by_measure), qrels, run):
                if metric.query_id in qrels:
                    values[by_measure[metric.measure]][metric.query_id] = float(metric.value)
        return values

    def means(self, run: Run, qrels: Qrels) -> dict[str, float]:
        """The mean of each figure over every query in ``qrels`` (0.0 when there is none)."""
        if not qrels:
            return dict.fromkeys(self.measures, 0.0)
        return {key: sum(got.values()) / len(got) for key, got in self.per_query(run, qrels).items()}


def evaluate(
    search: Callable[[str], list[str]],
    queries: dict[str, str],
    qrels: Qrels,
    k: int = 10,
    progress: Callable[[], None] | None = None,
    metrics: Metrics | None = None,
) -> dict[str, Any]:
    """Search every judged query and score kotae's rankings: the means, how many queries they
    are taken over, and which provider computed each figure. The providers are settled before
    the first search (pass ``metrics`` to settle them earlier still), so a missing one fails at once."""
    metrics = metrics or Metrics.at(k)
    judged = {qid: qrels[qid] for qid in queries if qrels.get(qid)}
    run: Run = {}
    for qid in judged:
        ranking = ranking_scores(search(queries[qid]))
        if ranking:  # a query with no hits is left out of the run, and so scores 0
            run[qid] = ranking
        if progress:
            progress()
    return {
        **metrics.means(run, judged),
        "queries": len(judged),
        "metrics_provider": metrics.provider_names(),
        "metrics_library": metrics.library,
    }
