"""Gate dev sets (kotae.evaluation.gate_sets) and the gate's fit (kotae.evaluation.gate_fit)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from kotae.answer.gate import GateModel
from kotae.errors import InputError
from kotae.evaluation.gate_fit import (
    Observation,
    best_threshold,
    figures,
    fit_gate,
    fit_logistic,
    in_embedder_language,
    observe,
    report,
    set_weights,
    split,
    standardization,
)
from kotae.evaluation.gate_sets import build_gate_set, load_gate_set, relevant_documents, silence_half
from kotae.evaluation.retrieval import BeirSet, load_beir
from tests.conftest import ROOT
from tests.unit.test_gate import Frequencies, hit

MINI = ROOT / "tests" / "fixtures" / "gate-mini"


def test_relevant_documents_are_graded_at_least_one_and_in_the_corpus() -> None:
    relevant = relevant_documents(load_beir(MINI))
    assert relevant["q9"] == {"pw"}  # vpn is graded 0
    assert "q10" not in relevant  # its only relevant document is not in the corpus
    assert len(relevant) == 9


def test_the_removed_documents_are_exactly_those_of_the_unanswerable_questions() -> None:
    data = load_beir(MINI)
    gate_set = build_gate_set(data, seed=3)
    relevant = relevant_documents(data)
    unanswerable = {q.id for q in gate_set.unanswerable}
    assert gate_set.removed == frozenset().union(*(relevant[q] for q in unanswerable))
    assert {str(d["_id"]) for d in gate_set.corpus} == {str(d["_id"]) for d in data.corpus} - gate_set.removed
    assert all(q.relevant and q.relevant <= relevant[q.id] - gate_set.removed for q in gate_set.answerable)
    assert all(not q.relevant for q in gate_set.unanswerable)
    assert len(gate_set.unanswerable) >= len(relevant) // 2 and gate_set.answerable


def test_the_same_seed_builds_the_same_set_and_another_seed_another() -> None:
    data = load_beir(MINI)
    assert build_gate_set(data, seed=7) == build_gate_set(data, seed=7)
    sets = {build_gate_set(data, seed=s).removed for s in range(6)}
    assert len(sets) > 1


def test_a_shared_document_silences_every_question_it_answers() -> None:
    # GIVEN q1 and q9 both answered by "pw" only
    relevant = {
        "q1": frozenset({"pw"}),
        "q9": frozenset({"pw"}),
        "q2": frozenset({"vpn"}),
        "q3": frozenset({"exp"}),
    }
    # WHEN q1 is drawn first THEN removing pw silences q1 and q9: half of four, so nothing else goes
    assert silence_half(relevant, ["q1", "q2", "q3", "q9"]) == {"pw"}


def test_a_limit_samples_questions_and_keeps_their_halves() -> None:
    gate_set = build_gate_set(load_beir(MINI), seed=1, limit=4)
    assert len(gate_set.questions) == 4 and len(gate_set.unanswerable) >= 2


def test_unanswerable_lines_join_the_unanswerable_side(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(MINI, tmp_path / "set")
    (tmp_path / "set" / "unanswerable.jsonl").write_text('{"_id": "u1", "text": "Who won in 1987?"}\n\n')
    gate_set = load_gate_set(tmp_path / "set", seed=3)
    assert gate_set.unanswerable[-1].id == "u:u1" and gate_set.name == "set"
    assert len(load_gate_set(MINI, seed=3).unanswerable) == len(gate_set.unanswerable) - 1


@pytest.mark.parametrize(
    "line",
    [
        pytest.param("{not json", id="not-json"),
        pytest.param('{"text": "no id"}', id="no-id"),
        pytest.param("[1]", id="not-an-object"),
    ],
)
def test_a_bad_unanswerable_line_is_an_input_error(tmp_path: Path, line: str) -> None:
    import shutil

    shutil.copytree(MINI, tmp_path / "set")
    (tmp_path / "set" / "unanswerable.jsonl").write_text(line + "\n")
    with pytest.raises(InputError, match="unanswerable.jsonl:1"):
        load_gate_set(tmp_path / "set")


def obs(
    name: str, answerable: bool, coverage: float | None, cited: bool = True, baseline: bool = True
) -> Observation:
    features = None if coverage is None else {"coverage": coverage, "dense_similarity": None}
    return Observation(name, f"{name}-{random.random()}", answerable, features, cited, baseline)


def test_an_observation_is_right_when_it_answers_citing_a_relevant_item_or_refuses_an_unanswerable_one() -> (
    None
):
    assert obs("s", True, 1.0).right(True) and not obs("s", True, 1.0).right(False)
    assert not obs("s", True, 1.0, cited=False).right(True) and obs("s", True, 1.0, cited=False).label == 0.0
    assert obs("s", False, 1.0).right(False) and not obs("s", False, 1.0).right(True)


def test_observe_records_features_citations_and_the_threshold_gates_outcome() -> None:
    gate_set = build_gate_set(load_beir(MINI), seed=3)
    found = {q.id: q for q in gate_set.questions}
    answerable = gate_set.answerable[0]
    relevant = next(iter(answerable.relevant))

    def search(text: str) -> list:
        if text == answerable.text:
            return [hit("other", "Other", "x", 1.0), hit(relevant, "Right", "y", 0.9)]
        return []

    observed = observe(gate_set, search, Frequencies(8, {}), min_relevance=0.25, max_context_chars=10_000)
    assert [o.id for o in observed] == list(found)
    first = next(o for o in observed if o.id == answerable.id)
    assert (
        first.cited_relevant and first.baseline_answered and first.features is not None and first.label == 1.0
    )
    rest = [o for o in observed if o.id != answerable.id]
    assert all(o.features is None and not o.baseline_answered for o in rest)


def test_observe_cites_only_the_first_sources() -> None:
    gate_set = build_gate_set(load_beir(MINI), seed=3)
    question = gate_set.answerable[0]
    relevant = next(iter(question.relevant))
    hits = [hit(f"h{i}", "t", "x", 1.0) for i in range(3)] + [hit(relevant, "t", "x", 1.0)]
    observed = observe(
        gate_set, lambda text: hits, Frequencies(8, {}), min_relevance=0.0, max_context_chars=10_000
    )
    assert not next(o for o in observed if o.id == question.id).cited_relevant


def test_split_halves_every_set_deterministically() -> None:
    rows = [obs("en", True, 0.5) for _ in range(10)] + [obs("ja", False, 0.1) for _ in range(6)]
    fit, held = split(rows, seed=1)
    assert [o.set for o in fit].count("en") == 5 and [o.set for o in fit].count("ja") == 3
    assert sorted(o.id for o in fit + held) == sorted(o.id for o in rows)
    assert split(rows, seed=1) == (fit, held)


def test_standardization_ignores_unmeasured_values_and_keeps_constant_features_at_scale_one() -> None:
    means, scales = standardization(
        [{"coverage": 0.0, "agreement": 1.0}, {"coverage": 1.0, "agreement": 1.0, "dense_similarity": None}],
        ["coverage", "agreement", "dense_similarity"],
    )
    assert means == [0.5, 1.0, 0.0] and scales == [0.5, 1.0, 1.0]


def test_the_logistic_fit_finds_the_direction_of_the_evidence() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 2))
    y = (x[:, 0] - 0.5 * x[:, 1] + rng.normal(scale=0.5, size=400) > 0).astype(float)
    weights, intercept = fit_logistic(x, y, l2=1.0)
    assert weights[0] > 1.0 and weights[1] < -0.3 and abs(intercept) < 0.5
    heavier, _ = fit_logistic(x, y, l2=1000.0)
    assert abs(heavier[0]) < abs(weights[0])  # the penalty shrinks the coefficients


def test_the_fitted_gate_separates_answerable_from_silenced_questions() -> None:
    rows = [obs("en", True, 0.6 + i / 100) for i in range(30)] + [
        obs("en", False, 0.2 + i / 100) for i in range(30)
    ]
    rows += [obs("ja", True, None)]  # nothing retrieved: no features, counted as refused
    model = fit_gate(rows, features=["coverage", "dense_similarity"])
    assert model.coefficients[0] > 0 and 0 < model.threshold < 1
    assert figures(model, rows[:60]) == {
        "questions": 60,
        "right_outcome": 1.0,
        "answer_rate": 1.0,
        "refusal_rate": 1.0,
    }
    assert report(model, rows)["ja"]["gate"]["right_outcome"] == 0.0


def test_the_threshold_maximizes_the_mean_rate_over_sets() -> None:
    model = GateModel(
        features=["coverage"], means=[0.0], scales=[1.0], coefficients=[10.0], intercept=-5.0, threshold=0.5
    )
    rows = [obs("a", True, 0.9), obs("a", False, 0.1), obs("b", True, 0.45), obs("b", False, 0.3)]
    cut = best_threshold(model, rows)
    assert model.probability({"coverage": 0.3}) < cut <= model.probability({"coverage": 0.45})


def test_the_threshold_gates_figures_come_from_its_recorded_decisions() -> None:
    rows = [
        obs("s", True, 0.9, baseline=True),
        obs("s", False, 0.1, baseline=True),
        obs("s", True, 0.2, baseline=False),
    ]
    assert figures(None, rows) == {
        "questions": 3,
        "right_outcome": 0.3333,
        "answer_rate": 0.5,
        "refusal_rate": 0.0,
    }
    assert figures(None, []) == {
        "questions": 0,
        "right_outcome": None,
        "answer_rate": None,
        "refusal_rate": None,
    }


def test_a_set_without_judged_questions_builds_empty() -> None:
    empty = build_gate_set(BeirSet(corpus=[{"_id": "d", "title": "", "text": ""}], queries={}, qrels={}))
    assert empty.questions == [] and empty.removed == frozenset() and len(empty.corpus) == 1


def test_every_set_weighs_the_same_in_the_fit() -> None:
    rows = [obs("big", True, 0.5)] * 30 + [obs("small", False, 0.5)] * 10
    weights = set_weights(rows)
    assert sum(weights[:30]) == pytest.approx(sum(weights[30:])) == pytest.approx(20.0)
    assert sum(weights) == pytest.approx(len(rows))


def two_feature_sets() -> list[Observation]:
    """A large set decided by coverage (title coverage is noise there) and a small one whose
    coverage is the same for every question and whose title coverage decides."""
    rng = random.Random(5)

    def row(name: str, answerable: bool, coverage: float, title: float) -> Observation:
        features = {"coverage": coverage, "title_coverage": title}
        return Observation(name, f"{name}-{rng.random()}", answerable, features, True, True)

    big = [row("big", True, 0.7 + rng.random() * 0.3, rng.random()) for _ in range(200)]
    big += [row("big", False, rng.random() * 0.6, rng.random()) for _ in range(200)]
    small = [row("small", True, 0.3 + rng.random() * 0.1, 0.6 + rng.random() * 0.4) for _ in range(10)]
    small += [row("small", False, 0.3 + rng.random() * 0.1, rng.random() * 0.4) for _ in range(10)]
    return big + small


def test_a_small_set_is_not_outvoted_by_a_large_one(monkeypatch) -> None:
    import kotae.evaluation.gate_fit as gate_fit

    rows = two_feature_sets()
    features = ["coverage", "title_coverage"]

    def rates(model: GateModel) -> dict[str, float]:
        return {name: row["gate"]["right_outcome"] for name, row in report(model, rows).items()}

    weighted = fit_gate(rows, features=features)
    monkeypatch.setattr(gate_fit, "set_weights", lambda observations: [1.0] * len(observations))
    unweighted = fit_gate(rows, features=features)
    # THEN with each set weighing the same, title coverage gets the weight the small set needs
    assert weighted.coefficients[1] > 2 * unweighted.coefficients[1]
    assert rates(weighted)["small"] == 1.0 > rates(unweighted)["small"]
    assert sum(rates(weighted).values()) > sum(rates(unweighted).values())


def dense_obs(name: str, answerable: bool, similarity: float) -> Observation:
    features = {"coverage": 0.5, "dense_similarity": similarity, "dense_missing": 0.0}
    return Observation(name, f"{name}-{random.random()}", answerable, features, True, True)


def lexical_obs(name: str, answerable: bool, coverage: float) -> Observation:
    features = {"coverage": coverage, "dense_similarity": None, "dense_missing": 1.0}
    return Observation(name, f"{name}-{random.random()}", answerable, features, True, True)


def test_questions_with_and_without_a_dense_score_get_a_model_each() -> None:
    # GIVEN English questions decided by their cosine (coverage says nothing) and Japanese ones
    # without a cosine, decided by coverage
    dense = [dense_obs("en", True, 0.7 + i / 100) for i in range(20)] + [
        dense_obs("en", False, 0.2 + i / 100) for i in range(20)
    ]
    lexical = [lexical_obs("ja", True, 0.6 + i / 100) for i in range(20)] + [
        lexical_obs("ja", False, 0.1 + i / 100) for i in range(20)
    ]
    model = fit_gate(dense + lexical, features=["coverage", "dense_similarity", "dense_missing"])
    # THEN the lexical model weighs coverage, the dense one the cosine, and both sets are right
    assert model.lexical is not None and model.lexical.lexical is None
    assert model.lexical.coefficients[0] > 0.5 and model.coefficients[1] > 0.5
    assert {name: row["gate"]["right_outcome"] for name, row in report(model, dense + lexical).items()} == {
        "en": 1.0,
        "ja": 1.0,
    }
    # AND a model fitted on one regime only has no second model
    assert fit_gate(lexical, features=["coverage"]).lexical is None


def test_a_lexical_second_pass_only_for_sets_the_embedder_reads() -> None:
    # An English set: dense ran for most questions; a Japanese one: for one stray question only
    english = [dense_obs("en", True, 0.8) for _ in range(9)] + [lexical_obs("en", True, 0.5)]
    japanese = [dense_obs("ja", True, 0.8)] + [lexical_obs("ja", True, 0.5) for _ in range(9)]
    assert in_embedder_language(english) and not in_embedder_language(japanese)
    assert not in_embedder_language([obs("none", True, None)])  # nothing retrieved at all
