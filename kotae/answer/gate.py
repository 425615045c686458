"""The answer gate: whether the retrieved hits hold an answer at all, or kotae says "not found".

One threshold on one score cannot do this across stores and languages: an English question whose
best entry shares two common words with it and a Japanese one whose best paragraph shares none of
its rare words can have the same fused relevance. The gate instead reads several kinds of
evidence from the question and the hits, each meaning the same on every store:

* coverage: the IDF-weighted share of the question's terms (:mod:`kotae.answer.relevance`) in the
  best hit's title, in its title and text, and the margin of that over the second hit; the share
  of the weight the best hit misses in its single heaviest missing term; the share held by terms
  that occur nowhere the asker can see;
* ranking: the fused score's margin to the second hit, the second hit's lexical score over the
  best one's (a ratio, so BM25 scales of different stores cancel), and whether the best hit heads
  every list that ran;
* the dense cosine of the best hit, only when dense retrieval ran (the embedder knows the
  question's language), and the reranker's score when one is configured; each with an indicator
  saying it is missing, so a model fitted with them still works without them;
* the question's length in terms.

A logistic regression combines them: its feature names, standardization, coefficients,
operating threshold and provenance are data (``kotae/answer/data/gate.json``), fitted by
``kotae eval gate`` (kotae.evaluation.gate_fit); scoring is a dot product and a sigmoid.

Questions dense retrieval ran for and questions it did not (a language the embedder does not
know, or lexical-only retrieval) are two regimes: without a cosine the lexical evidence has to
carry the decision, and one set of weights fitted across both leaned on the cosine and refused
too many answerable Japanese questions. A model may therefore carry a second one, ``lexical``,
with its own weights and operating point, used for every question without a dense score.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from kotae.answer.relevance import TermStatistics, idf_weights, query_terms, text_coverage
from kotae.errors import ConfigError
from kotae.models import Filters, SearchHit
from kotae.text import tokenize

FEATURES = (
    "title_coverage",
    "coverage",
    "coverage_margin",
    "missing_term",
    "unknown_terms",
    "score_margin",
    "lexical_ratio",
    "agreement",
    "dense_similarity",
    "dense_missing",
    "rerank_score",
    "rerank_missing",
    "query_terms",
)
"""Every feature :func:`gate_features` computes; a model uses any subset of them."""

Features = dict[str, float | None]  # None: not measured for this question (standardized to 0)


@dataclass(frozen=True)
class QueryTerms:
    """The question's terms with their IDF weights, and those no visible chunk contains."""

    weights: Mapping[str, float]
    unknown: frozenset[str] = frozenset()

    @classmethod
    def of(cls, statistics: TermStatistics, query: str, filters: Filters | None = None) -> QueryTerms:
        """IDF from the store's frequencies over what ``filters`` let the asker see; a query with
        no terms has none, and the store is not asked."""
        terms = query_terms(query)
        if not terms:
            return cls({})
        chunks, df = statistics.term_frequencies(terms, filters or Filters())
        return cls(idf_weights(terms, chunks, df), frozenset(t for t in terms if df.get(t, 0) <= 0))


def _share(weights: Mapping[str, float], terms: set[str] | frozenset[str]) -> float:
    whole = sum(weights.values())
    return sum(w for t, w in weights.items() if t in terms) / whole if whole else 0.0


def _ranking(hits: Sequence[SearchHit]) -> Features:
    best = hits[0]
    second = hits[1] if len(hits) > 1 else None
    lexical_ratio = None
    if best.lexical_score:
        lexical_ratio = (second.lexical_score or 0.0) / best.lexical_score if second else 0.0
    ran = [rank for rank in (best.lexical_rank, best.dense_rank) if rank is not None]
    dense_ran = any(h.dense_score is not None for h in hits)
    return {
        "score_margin": best.score - (second.score if second else 0.0),
        "lexical_ratio": lexical_ratio,
        "agreement": 1.0 if ran and all(rank == 1 for rank in ran) else 0.0,
        "dense_similarity": (best.dense_score or 0.0) if dense_ran else None,
        "dense_missing": 0.0 if dense_ran else 1.0,
        "rerank_score": best.rerank_score,
        "rerank_missing": 0.0 if best.rerank_score is not None else 1.0,
    }


def gate_features(terms: QueryTerms, hits: Sequence[SearchHit]) -> Features | None:
    """The gate's evidence for hits in their ranked order; None without hits (nothing to show)."""
    if not hits:
        return None
    weights, best = terms.weights, hits[0].document
    whole = sum(weights.values())
    present = set(tokenize(f"{best.title}\n{best.text}"))
    missing = [w for t, w in weights.items() if t not in present]
    covered = _share(weights, present)
    second = (
        text_coverage(weights, f"{hits[1].document.title}\n{hits[1].document.text}") if len(hits) > 1 else 0.0
    )
    return {
        "title_coverage": text_coverage(weights, best.title),
        "coverage": covered,
        "coverage_margin": covered - second,
        "missing_term": max(missing) / whole if missing and whole else 0.0,
        "unknown_terms": _share(weights, terms.unknown),
        **_ranking(hits),
        "query_terms": math.log1p(len(weights)),
    }


class GateModel(BaseModel):
    """A fitted logistic regression over named, standardized features, with its operating point."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    features: list[str] = Field(min_length=1)
    means: list[float]
    scales: list[float]
    coefficients: list[float]
    intercept: float
    threshold: float = Field(ge=0.0, le=1.0)
    # The model of the questions dense retrieval did not run for; None: this one serves both.
    lexical: GateModel | None = None
    provenance: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> GateModel:
        unknown = sorted(set(self.features) - set(FEATURES))
        if unknown:
            raise ValueError(f"unknown gate features: {', '.join(unknown)}")
        sizes = {len(self.features), len(self.means), len(self.scales), len(self.coefficients)}
        if len(sizes) != 1:
            raise ValueError("features, means, scales and coefficients must have the same length")
        if any(scale <= 0 for scale in self.scales):
            raise ValueError("every scale must be positive")
        if self.lexical is not None and self.lexical.lexical is not None:
            raise ValueError("the lexical model cannot carry a lexical model of its own")
        return self

    def logit(self, features: Features) -> float:
        """The linear score; an unmeasured feature sits at its mean (its indicator says so)."""
        total = self.intercept
        for name, mean, scale, weight in zip(
            self.features, self.means, self.scales, self.coefficients, strict=True
        ):
            value = features.get(name)
            if value is not None:
                total += weight * (value - mean) / scale
        return total

    def serving(self, features: Features) -> GateModel:
        """The model for this question's regime: ``lexical`` when no dense score was measured."""
        if self.lexical is not None and features.get("dense_missing") != 0.0:
            return self.lexical
        return self

    def probability(self, features: Features) -> float:
        """P(the best hit answers the question), by the logistic function of the serving
        model's :meth:`logit`."""
        z = self.serving(features).logit(features)
        return 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))

    def passes(self, features: Features | None, threshold: float | None = None) -> bool:
        """Whether to answer: some hit, and a probability at the serving model's operating
        point or above (``threshold``, e.g. a prompt version's, replaces the fitted one)."""
        if features is None:
            return False
        cut = self.serving(features).threshold if threshold is None else threshold
        return self.probability(features) >= cut


DEFAULT_MODEL = "gate.json"


def load_model(path: Path | None = None) -> GateModel:
    """A gate model from a JSON file; without a path, the packaged one (kotae/answer/data)."""
    try:
        if path is None:
            text = resources.files("kotae.answer").joinpath("data", DEFAULT_MODEL).read_text(encoding="utf-8")
        else:
            text = path.read_text(encoding="utf-8")
        return GateModel.model_validate_json(text)
    except (OSError, ValidationError) as exc:
        where = path or f"kotae/answer/data/{DEFAULT_MODEL}"
        raise ConfigError(
            f"cannot load the answer gate model {where}: {exc}; refit it with `kotae eval gate`"
        ) from exc


@cache
def packaged_model() -> GateModel:
    """The packaged gate model, read once per process."""
    return load_model()
