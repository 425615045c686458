"""kotae.evaluation.retrieval's figures: nDCG@k, Recall@k and MRR@k as trec_eval and BEIR define
them, computed by ir-measures, on hand-computed cases, with ties, and against BEIR's own path."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import ir_measures
import pytest
import pytrec_eval
from hypothesis import given, settings
from hypothesis import strategies as st

from kotae.errors import ConfigError
from kotae.evaluation.retrieval import Metrics, choose_providers, evaluate, ranking_scores

LOG2_3 = math.log2(3)  # 1.58496...
LOG2_5 = math.log2(5)

# d2 graded 2, d4 and d5 graded 1, d9 judged not relevant (0).
RELEVANT = {"d2": 2, "d4": 1, "d5": 1, "d9": 0}
RANKED = ["d1", "d2", "d3", "d4"]
# The ideal top 3 (and top 4, top 10) has linear gains [2, 1, 1]: 2/log2(2) + 1/log2(3) + 1/log2(4).
IDEAL = 2 + 1 / LOG2_3 + 1 / 2


def figures(ranked: list[str], relevant: dict[str, int], k: int) -> dict[str, float]:
    """One query's three figures at k, as the library computes them from kotae's ranking."""
    metrics = Metrics.at(k)
    run = {"q": ranking_scores(ranked)} if ranked else {}
    per_query = metrics.per_query(run, {"q": relevant})
    return {key.split("@")[0]: values["q"] for key, values in per_query.items()}


# --- ranking_scores -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ranked", "expected"),
    [
        pytest.param([], {}, id="no-hits"),
        pytest.param(["a"], {"a": 1.0}, id="one"),
        pytest.param(["c", "a", "b"], {"c": 3.0, "a": 2.0, "b": 1.0}, id="kotae-order-not-id-order"),
        pytest.param(["a", "b", "a", "c"], {"a": 3.0, "b": 2.0, "c": 1.0}, id="repeat-keeps-first-place"),
    ],
)
def test_ranking_scores_restate_kotae_order(ranked: list[str], expected: dict[str, float]) -> None:
    scores = ranking_scores(ranked)
    assert scores == expected
    assert list(scores) == list(dict.fromkeys(ranked))  # strictly decreasing, so no ties


# --- nDCG: linear gains -------------------------------------------------------------------------


def test_ndcg_uses_linear_gains() -> None:
    # top 3 of RANKED has gains [0, 2, 0]: dcg = 2 / log2(3); ideal [2, 1, 1]
    expected = (2 / LOG2_3) / IDEAL
    assert figures(RANKED, RELEVANT, 3)["ndcg"] == pytest.approx(expected)
    # 0.40303 with linear gains; exponential gains (2^g - 1) would give 0.45820
    assert expected == pytest.approx(0.40303, abs=1e-5)


@pytest.mark.parametrize(
    ("ranked", "relevant", "k", "expected"),
    [
        pytest.param(RANKED, RELEVANT, 4, (2 / LOG2_3 + 1 / LOG2_5) / IDEAL, id="at-4-counts-d4"),
        pytest.param(RANKED, RELEVANT, 10, (2 / LOG2_3 + 1 / LOG2_5) / IDEAL, id="k-beyond-ranking"),
        pytest.param(["d2", "d4", "d5"], RELEVANT, 3, 1.0, id="ideal-order"),
        pytest.param(["d2", "x"], RELEVANT, 1, 1.0, id="ideal-at-1"),
        # gains [1, 2] -> 1 + 2/log2(3); ideal [2, 1] -> 2 + 1/log2(3)
        pytest.param(["d4", "d2"], {"d2": 2, "d4": 1}, 2, (1 + 2 / LOG2_3) / (2 + 1 / LOG2_3), id="swapped"),
        # two grade-1 documents above the grade-2 one: [1, 1, 2] -> 1 + 1/log2(3) + 2/2
        pytest.param(["d4", "d5", "d2"], RELEVANT, 3, (2 + 1 / LOG2_3) / IDEAL, id="grade-2-last"),
        pytest.param(["x", "y"], RELEVANT, 2, 0.0, id="nothing-relevant-retrieved"),
        pytest.param(["d9"], {"d9": 0}, 5, 0.0, id="only-zero-grades"),
        pytest.param([], RELEVANT, 3, 0.0, id="no-hits"),
        # trec_eval gives a negative grade no gain: [0, 1] -> 1/log2(3); ideal [1]
        pytest.param(["a", "b"], {"a": -1, "b": 1}, 10, 1 / LOG2_3, id="negative-grade-no-gain"),
    ],
)
def test_ndcg_cases(ranked: list[str], relevant: dict[str, int], k: int, expected: float) -> None:
    assert figures(ranked, relevant, k)["ndcg"] == pytest.approx(expected)


# --- Recall and MRR -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ranked", "relevant", "k", "expected"),
    [
        pytest.param(RANKED, RELEVANT, 1, 0.0, id="k1-none"),
        pytest.param(RANKED, RELEVANT, 3, 1 / 3, id="k3-d2-of-three"),
        pytest.param(RANKED, RELEVANT, 4, 2 / 3, id="k4-d2-d4-of-three"),
        pytest.param(RANKED, RELEVANT, 10, 2 / 3, id="k-beyond-ranking"),
        pytest.param(["d9", "d1"], RELEVANT, 10, 0.0, id="zero-grade-not-relevant"),
        pytest.param(["a"], {"a": 0}, 10, 0.0, id="only-zero-grades"),
        pytest.param(["d2", "d4", "d5"], RELEVANT, 10, 1.0, id="all-found"),
        pytest.param([], RELEVANT, 10, 0.0, id="no-hits"),
    ],
)
def test_recall_counts_score_1_and_above(
    ranked: list[str], relevant: dict[str, int], k: int, expected: float
) -> None:
    assert figures(ranked, relevant, k)["recall"] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("ranked", "k", "expected"),
    [
        pytest.param(RANKED, 3, 1 / 2, id="first-relevant-at-2"),
        pytest.param(RANKED, 1, 0.0, id="cut-before-first-relevant"),
        pytest.param(["d4", "d2"], 2, 1.0, id="grade-1-counts"),
        pytest.param(["d9", "x", "d5"], 3, 1 / 3, id="zero-grade-skipped"),
        pytest.param(["x", "y"], 10, 0.0, id="none"),
        pytest.param([], 10, 0.0, id="no-hits"),
    ],
)
def test_mrr_at_k(ranked: list[str], k: int, expected: float) -> None:
    assert figures(ranked, RELEVANT, k)["mrr"] == pytest.approx(expected)


# --- ties: kotae's order is what is measured -----------------------------------------------------


@pytest.mark.parametrize(
    "ranked", [pytest.param(["a", "b"], id="a-first"), pytest.param(["b", "a"], id="b-first")]
)
def test_kotae_order_is_measured_whatever_the_ids(ranked: list[str]) -> None:
    # GIVEN two hits in kotae's order, only a relevant
    got = figures(ranked, {"a": 1}, 10)
    # THEN every figure sees a where kotae put it
    place = ranked.index("a") + 1
    assert got["mrr"] == pytest.approx(1 / place)
    assert got["ndcg"] == pytest.approx(1 / math.log2(place + 1))
    assert got["recall"] == 1.0


def test_tied_scores_would_be_broken_differently_by_each_provider() -> None:
    # Why ranking_scores exists: handed equal scores, trec_eval orders by id descending (b, a)
    # and MS MARCO's RR by id ascending (a, b), so one ranking would be measured in two orders.
    metrics = Metrics.at(10)
    assert metrics.provider_names() == {
        "ndcg@10": "pytrec_eval",
        "recall@10": "pytrec_eval",
        "mrr@10": "msmarco",
    }
    tied = metrics.per_query({"q": {"a": 1.0, "b": 1.0}}, {"q": {"a": 1}})
    assert tied["ndcg@10"]["q"] == pytest.approx(1 / LOG2_3)  # measured as [b, a]
    assert tied["mrr@10"]["q"] == 1.0  # measured as [a, b]


# --- parity with BEIR's computation and the published definitions --------------------------------

DOCS = [f"d{i}" for i in range(12)]
judgements = st.dictionaries(st.sampled_from(DOCS), st.integers(0, 2), min_size=1, max_size=6)
rankings = st.lists(st.sampled_from(DOCS), unique=True, max_size=12)
query_sets = st.dictionaries(
    st.sampled_from([f"q{i}" for i in range(6)]), st.tuples(judgements, rankings), min_size=1
)


def _ndcg(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    """trec_eval's ndcg_cut: linear gains, log2(rank + 1) discount, over the ideal ordering."""

    def dcg(gains: list[int]) -> float:
        return sum(max(g, 0) / math.log2(i + 2) for i, g in enumerate(gains))

    ideal = dcg(sorted(relevant.values(), reverse=True)[:k])
    return dcg([relevant.get(d, 0) for d in ranked[:k]]) / ideal if ideal else 0.0


def _recall(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    wanted = {d for d, g in relevant.items() if g >= 1}
    return len(wanted & set(ranked[:k])) / len(wanted) if wanted else 0.0


def _rr(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    return next((1 / (i + 1) for i, d in enumerate(ranked[:k]) if relevant.get(d, 0) >= 1), 0.0)


@settings(max_examples=60, deadline=None)
@given(query_sets)
def test_figures_match_beir_and_the_textbook_definitions(
    cases: dict[str, tuple[dict[str, int], list[str]]],
) -> None:
    qrels = {qid: relevant for qid, (relevant, _) in cases.items()}
    ranked = {qid: ranking for qid, (_, ranking) in cases.items()}
    got = evaluate(lambda qid: ranked[qid], {qid: qid for qid in cases}, qrels, k=10)
    # BEIR: pytrec_eval on every query's run (empty when nothing was found), averaged over them all;
    # its MRR@k is 1/rank of the first document with score > 0, averaged over the qrels' queries.
    beir_run = {qid: ranking_scores(ranking) for qid, ranking in ranked.items()}
    beir = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.10"}).evaluate(beir_run)
    n = len(cases)
    assert got["queries"] == n
    assert got["ndcg@10"] == pytest.approx(sum(s["ndcg_cut_10"] for s in beir.values()) / n)
    assert got["recall@10"] == pytest.approx(sum(s["recall_10"] for s in beir.values()) / n)
    for key, definition in (("ndcg@10", _ndcg), ("recall@10", _recall), ("mrr@10", _rr)):
        expected = sum(definition(ranked[qid], qrels[qid], 10) for qid in cases) / n
        assert got[key] == pytest.approx(expected), key


# --- providers -----------------------------------------------------------------------------------


def test_the_installed_providers() -> None:
    metrics = Metrics.at(10)
    assert metrics.library == f"ir-measures {ir_measures.__version__}"
    assert {key: str(m) for key, m in metrics.measures.items()} == {
        "ndcg@10": "nDCG@10",
        "recall@10": "R@10",
        "mrr@10": "RR@10",
    }
    # pytrec_eval has RR only without a cutoff, so ir-measures hands RR@10 to MS MARCO's RR
    assert metrics.provider_names() == {
        "ndcg@10": "pytrec_eval",
        "recall@10": "pytrec_eval",
        "mrr@10": "msmarco",
    }


@dataclass
class FakeProvider:
    """An ir-measures provider in miniature: scores every query of the run with ``value``."""

    NAME: str
    available: bool = True
    hint: str | None = None
    value: float = 0.5
    extra_query: str | None = None
    calls: list[list[Any]] = field(default_factory=list)

    def supports(self, measure: Any) -> bool:
        return True

    def is_available(self) -> bool:
        return self.available

    def install_instructions(self) -> str | None:
        return self.hint

    def iter_calc(self, measures: list[Any], qrels: Any, run: Any) -> Iterator[Any]:
        self.calls.append(list(measures))
        for qid in [*run, *([self.extra_query] if self.extra_query else [])]:
            for measure in measures:
                yield ir_measures.Metric(query_id=qid, measure=measure, value=self.value)


def test_the_first_installed_provider_is_chosen() -> None:
    missing, fallback = FakeProvider("first", available=False), FakeProvider("second")
    measures = {"ndcg@10": ir_measures.nDCG @ 10}
    assert choose_providers(measures, [missing, fallback]) == {"ndcg@10": fallback}


@pytest.mark.parametrize(
    ("candidates", "message"),
    [
        pytest.param([], r"^no installed ir-measures provider computes nDCG@10; install", id="none-exists"),
        pytest.param(
            [
                FakeProvider("alpha", available=False, hint="pip install alpha"),
                FakeProvider("beta", available=False),
            ],
            r"computed by alpha \(pip install alpha\), beta \(no install hint\); "
            r"install the 'eval' extra: pip install 'kotae\[eval\]' \(it brings pytrec_eval\)$",
            id="none-installed",
        ),
    ],
)
def test_no_installed_provider_is_a_settings_error(candidates: list[FakeProvider], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        choose_providers({"ndcg@10": ir_measures.nDCG @ 10}, candidates)


def test_without_pytrec_eval_the_run_stops_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN pytrec_eval's wheel is missing (and ranx, the other provider of nDCG, is not installed)
    monkeypatch.setattr(ir_measures.pytrec_eval, "_is_available", False)
    monkeypatch.setattr(ir_measures.ranx, "_is_available", False)
    searched: list[str] = []
    # WHEN evaluated THEN nothing is searched and the error says what to install
    with pytest.raises(
        ConfigError, match=r"nDCG@10.*pytrec_eval \(pip install --upgrade pytrec-eval-terrier\)"
    ):
        evaluate(lambda q: searched.append(q) or [], {"q": "t"}, {"q": {"a": 1}})
    assert searched == []


def test_a_fallback_provider_is_named_in_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN ir-measures' only provider is one that scores 0.5 (and a query outside the qrels)
    fallback = FakeProvider("fallback", extra_query="unjudged")
    monkeypatch.setattr(ir_measures.DefaultPipeline, "providers", [fallback])
    # WHEN two queries are evaluated, one of which finds nothing
    hits = {"one": ["a"], "two": []}
    got = evaluate(lambda q: hits[q], {"q1": "one", "q2": "two"}, {"q1": {"a": 1}, "q2": {"b": 1}}, k=10)
    # THEN the figures are its own (0.5 for the query it scored, 0 for the one it never saw) ...
    assert got["ndcg@10"] == got["recall@10"] == got["mrr@10"] == pytest.approx(0.25)
    # ... it was called once for all three, and the result names it
    assert len(fallback.calls) == 1 and len(fallback.calls[0]) == 3
    assert got["metrics_provider"] == {"ndcg@10": "fallback", "recall@10": "fallback", "mrr@10": "fallback"}


def test_without_ir_measures_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ir_measures", None)  # import ir_measures raises ImportError
    with pytest.raises(
        ConfigError, match=r"^retrieval metrics are computed by ir-measures: install the 'eval' extra"
    ):
        Metrics.at(10)
