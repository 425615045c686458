"""Fitting the answer gate (kotae.answer.gate) on gate dev sets, and scoring it honestly.

Each question of a gate set (kotae.evaluation.gate_sets) is retrieved for once and becomes an
:class:`Observation`: the gate's features, whether the sources an answer would be given hold a
relevant document within the first ``cited`` of them (the extractive answerer quotes three), and
whether the current threshold gate shows any evidence. Per set, a seeded half of the questions fits
the model and the other half is held out; the figures reported are the held-out ones.

The fit is L2-regularized logistic regression by iteratively reweighted least squares (Newton's
method) in numpy: a dozen features and a few thousand questions converge in a handful of steps,
and it keeps scikit-learn out of kotae's dependencies (numpy comes with the ``embedded`` and
``eval`` extras; the runtime scores with plain Python). Each set weighs the same in the fit
(every question weighted by the inverse of its set's size), and the operating threshold is the
one that maximizes the mean right-outcome rate over the sets on the fitting half, so no set
outweighs another by its size: unweighted, JSQuAD's 4,442 questions decided the weights that a
colloquial FAQ set of 360 questions is then judged by.

Questions with a dense score and questions without one are fitted as two models (the second
becomes the model's ``lexical``, kotae.answer.gate), each with its own threshold.
"""

from __future__ import annotations

import random
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kotae.answer.context import RELATIVE_FLOOR, _within_budget, select_evidence
from kotae.answer.gate import FEATURES, Features, GateModel, QueryTerms, gate_features
from kotae.answer.prompts import PromptParameters
from kotae.answer.relevance import TermStatistics
from kotae.evaluation.gate_sets import GateSet
from kotae.models import SearchHit

Search = Callable[[str], list[SearchHit]]

FIT_FEATURES = tuple(name for name in FEATURES if name != "score_margin")
"""What ``kotae eval gate`` fits on. The fused score is normalized within each candidate list,
so its margin to the second hit depends on how many candidates there are: a team's 50-entry
knowledge gives margins of 1.0 that the 10,000-document dev sets never show, and a model
fitted with it refused one-word questions ("VPN?") whose answer was the best hit."""


@dataclass(frozen=True)
class Observation:
    set: str
    id: str
    answerable: bool
    features: Features | None  # None: retrieval found nothing
    cited_relevant: bool  # the first sources an answer would cite hold a relevant document
    baseline_answered: bool  # the current threshold gate showed evidence

    @property
    def label(self) -> float:
        """What the gate should say: answer (1) only when answering would cite a relevant item."""
        return 1.0 if self.answerable and self.cited_relevant else 0.0

    def right(self, answer: bool) -> bool:
        return (answer and self.answerable and self.cited_relevant) or (not answer and not self.answerable)


def observe(
    gate_set: GateSet,
    search: Search,
    statistics_: TermStatistics,
    *,
    min_relevance: float,
    max_context_chars: int,
    cited: int = 3,
) -> list[Observation]:
    """Retrieve for every question of the set (from a store holding its corpus) and record it."""
    found = []
    defaults = PromptParameters()
    for question in gate_set.questions:
        hits = search(question.text)
        best = max((h.relevance for h in hits), default=0.0)
        sources = _within_budget(hits, best * RELATIVE_FLOOR, defaults, max_context_chars)[:cited]
        baseline = bool(
            select_evidence(hits, defaults, min_relevance=min_relevance, max_context_chars=max_context_chars)
        )
        cites = any(hit.document.item_key in question.relevant for _, hit in sources)
        answerable = bool(question.relevant)
        found.append(
            Observation(
                set=gate_set.name,
                id=question.id,
                answerable=answerable,
                features=gate_features(QueryTerms.of(statistics_, question.text), hits),
                cited_relevant=cites,
                baseline_answered=baseline,
            )
        )
    return found


def split(observations: Sequence[Observation], seed: int) -> tuple[list[Observation], list[Observation]]:
    """(fit, held out): a seeded half of each set's questions each, so every language is in both."""
    fit, held = [], []
    for name in dict.fromkeys(o.set for o in observations):
        members = [o for o in observations if o.set == name]
        random.Random(f"{seed}:{name}").shuffle(members)
        half = len(members) // 2
        fit.extend(members[:half])
        held.extend(members[half:])
    return fit, held


def standardization(rows: Sequence[Features], names: Sequence[str]) -> tuple[list[float], list[float]]:
    """Each feature's mean and standard deviation over the rows that measured it (scale 1 when it
    does not vary, so it then carries no weight)."""
    means, scales = [], []
    for name in names:
        values = [r[name] for r in rows if r.get(name) is not None]
        means.append(statistics.fmean(values) if values else 0.0)
        spread = statistics.pstdev(values) if len(values) > 1 else 0.0
        scales.append(spread if spread > 1e-9 else 1.0)
    return means, scales


def fit_logistic(
    matrix: Any, labels: Any, l2: float, steps: int = 100, weights: Any = None
) -> tuple[Any, float]:
    """(coefficients, intercept) maximizing the (``weights``-weighted) log-likelihood less
    ``l2/2 * |w|^2`` (the intercept unpenalized), by Newton steps until they stop moving."""
    import numpy as np

    x = np.hstack([np.ones((matrix.shape[0], 1)), matrix])
    weights = np.ones(x.shape[0]) if weights is None else np.asarray(weights, dtype=float)
    penalty = np.eye(x.shape[1]) * l2
    penalty[0, 0] = 0.0
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-np.clip(x @ w, -30, 30)))
        gradient = x.T @ (weights * (labels - p)) - penalty @ w
        hessian = (x.T * (weights * p * (1 - p))) @ x + penalty + np.eye(x.shape[1]) * 1e-9
        step = np.linalg.solve(hessian, gradient)
        w = w + step
        if np.max(np.abs(step)) < 1e-8:
            break
    return w[1:], float(w[0])


def right_rate(observations: Sequence[Observation], answers: Sequence[bool]) -> float:
    return sum(o.right(a) for o, a in zip(observations, answers, strict=True)) / len(observations)


def best_threshold(model: GateModel, observations: Sequence[Observation]) -> float:
    """The probability cut with the highest mean right-outcome rate over the sets (the middle of
    the best interval between two observed probabilities, so it is not on a question's edge)."""
    names = list(dict.fromkeys(o.set for o in observations))
    scored = [(o, model.probability(o.features) if o.features is not None else -1.0) for o in observations]
    cuts = sorted({p for _, p in scored if p >= 0} | {0.0, 1.0})
    best, best_cut = -1.0, 0.5
    for low, high in zip(cuts, [*cuts[1:], 1.0], strict=True):
        cut = (low + high) / 2 if high > low else low
        rates = [
            right_rate([o for o, _ in scored if o.set == n], [p >= cut for o, p in scored if o.set == n])
            for n in names
        ]
        if statistics.fmean(rates) > best:
            best, best_cut = statistics.fmean(rates), cut
    return round(best_cut, 6)


def set_weights(observations: Sequence[Observation]) -> list[float]:
    """A weight per question such that every set's weights sum to the same (the mean is 1)."""
    sizes = Counter(o.set for o in observations)
    return [len(observations) / (len(sizes) * sizes[o.set]) for o in observations]


def dense_ran(observation: Observation) -> bool:
    return observation.features is not None and observation.features.get("dense_missing") == 0.0


def in_embedder_language(observations: Sequence[Observation]) -> bool:
    """Whether dense retrieval ran for most of a set's questions: only such a set is worth a
    second, lexical-only pass (``--also-lexical``); for any other the pass repeats the first,
    and the fit would count the set twice."""
    return 2 * sum(map(dense_ran, observations)) > len(observations)


def fit_one(observations: Sequence[Observation], *, l2: float, features: Sequence[str]) -> GateModel:
    """One model, each set weighing the same, with the threshold that serves them best."""
    import numpy as np

    kept = [o for o in observations if o.features is not None]
    rows = [o.features for o in kept]
    means, scales = standardization(rows, features)  # type: ignore[arg-type]
    matrix = np.array(
        [
            [
                0.0 if r.get(n) is None else (r[n] - m) / s
                for n, m, s in zip(features, means, scales, strict=True)
            ]
            for r in rows
        ]  # type: ignore[operator, union-attr]
    )
    labels = np.array([o.label for o in kept])
    coefficients, intercept = fit_logistic(matrix, labels, l2, weights=set_weights(kept))
    model = GateModel(
        features=list(features), means=means, scales=scales,
        coefficients=[round(float(c), 6) for c in coefficients], intercept=round(intercept, 6), threshold=0.5,
    )  # fmt: skip
    return model.model_copy(update={"threshold": best_threshold(model, observations)})


def fit_gate(
    observations: Sequence[Observation], *, l2: float = 1.0, features: Sequence[str] = FIT_FEATURES
) -> GateModel:
    """The gate fitted on ``observations``: one model for the questions with a dense score and,
    as its ``lexical`` model, one for the rest (a question retrieval found nothing for is
    refused by either, and counts towards the lexical model's threshold); one model when only
    one regime occurs."""
    dense = [o for o in observations if dense_ran(o)]
    lexical = [o for o in observations if not dense_ran(o)]
    if not dense or not [o for o in lexical if o.features is not None]:
        return fit_one(observations, l2=l2, features=features)
    model = fit_one(dense, l2=l2, features=features)
    return model.model_copy(update={"lexical": fit_one(lexical, l2=l2, features=features)})


def figures(model: GateModel | None, observations: Sequence[Observation]) -> dict[str, Any]:
    """Right-outcome, answer and refusal rates of the gate (or, with None, the current threshold
    gate) on ``observations``."""
    answers = [o.baseline_answered if model is None else model.passes(o.features) for o in observations]
    answerable = [a for o, a in zip(observations, answers, strict=True) if o.answerable]
    refused = [not a for o, a in zip(observations, answers, strict=True) if not o.answerable]
    return {
        "questions": len(observations),
        "right_outcome": round(right_rate(observations, answers), 4) if observations else None,
        "answer_rate": round(sum(answerable) / len(answerable), 4) if answerable else None,
        "refusal_rate": round(sum(refused) / len(refused), 4) if refused else None,
    }


def report(model: GateModel, observations: Sequence[Observation]) -> dict[str, dict[str, Any]]:
    """Per set: the gate's figures and the current threshold gate's, on the same questions."""
    out = {}
    for name in dict.fromkeys(o.set for o in observations):
        members = [o for o in observations if o.set == name]
        out[name] = {"gate": figures(model, members), "threshold": figures(None, members)}
    return out
