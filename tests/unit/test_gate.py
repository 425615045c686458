"""The answer gate (kotae.answer.gate): its features, its model, and how evidence selection uses it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pytest
from pydantic import ValidationError

from kotae.answer.context import select_evidence
from kotae.answer.gate import FEATURES, GateModel, QueryTerms, gate_features, load_model, packaged_model
from kotae.answer.prompts import PromptParameters
from kotae.errors import ConfigError
from kotae.models import Document, Filters, SearchHit


class Frequencies:
    """Term statistics given up front; records what it was asked."""

    def __init__(self, chunks: int, df: dict[str, int]) -> None:
        self.chunks, self.df = chunks, df
        self.asked: list[tuple[list[str], Filters | None]] = []

    def term_frequencies(
        self, terms: Sequence[str], filters: Filters | None = None
    ) -> tuple[int, dict[str, int]]:
        self.asked.append((list(terms), filters))
        return self.chunks, {t: self.df[t] for t in terms if t in self.df}


def hit(key: str, title: str, text: str, score: float = 1.0, **trace: float | int | None) -> SearchHit:
    doc = Document(
        chunk_id=f"{key}#0000", item_key=key, kind="faq", title=title, text=text, chunk_index=0,
        scopes=["public"], content_hash=f"h-{key}",
    )  # fmt: skip
    return SearchHit(document=doc, score=score, relevance=score, **trace)


EQUAL = QueryTerms({"vpn": 1.0, "home": 1.0, "connect": 2.0})


def only(name: str, weight: float = 1.0, threshold: float = 0.5) -> GateModel:
    return GateModel(
        features=[name], means=[0.0], scales=[1.0], coefficients=[weight], intercept=0.0, threshold=threshold
    )


def test_query_terms_weigh_idf_and_mark_terms_found_nowhere() -> None:
    stats = Frequencies(10, {"vpn": 2})
    terms = QueryTerms.of(stats, "VPN gizmo", Filters(scopes=("hr",)))
    assert terms.unknown == {"gizmo"}
    assert terms.weights["vpn"] == pytest.approx(math.log(1 + 8.5 / 2.5))
    assert stats.asked == [(["vpn", "gizmo"], Filters(scopes=("hr",)))]


def test_a_query_without_terms_does_not_ask_the_store() -> None:
    stats = Frequencies(10, {})
    assert QueryTerms.of(stats, "the of ?").weights == {} and stats.asked == []


def test_features_of_hand_built_hits() -> None:
    # GIVEN a best hit whose title has "vpn" and text has "connect", and a weaker second hit
    hits = [
        hit(
            "a",
            "VPN",
            "connect with the client",
            1.0,
            lexical_rank=1,
            lexical_score=8.0,
            dense_rank=1,
            dense_score=0.7,
        ),
        hit(
            "b", "Home office", "tips", 0.4, lexical_rank=2, lexical_score=2.0, dense_rank=3, dense_score=0.2
        ),
    ]
    features = gate_features(QueryTerms(EQUAL.weights, frozenset({"home"})), hits)
    expected = {
        "title_coverage": 0.25, "coverage": 0.75, "coverage_margin": 0.5, "missing_term": 0.25,
        "unknown_terms": 0.25, "score_margin": 0.6, "lexical_ratio": 0.25, "agreement": 1.0,
        "dense_similarity": 0.7, "dense_missing": 0.0, "rerank_score": None, "rerank_missing": 1.0,
        "query_terms": math.log(4),
    }  # fmt: skip
    assert features == pytest.approx(expected)
    assert set(features) == set(FEATURES)


def test_a_single_lexical_hit_has_full_margins_and_no_dense_evidence() -> None:
    features = gate_features(
        EQUAL, [hit("a", "VPN home connect", "", 1.0, lexical_rank=1, lexical_score=3.0, rerank_score=0.9)]
    )
    assert features is not None
    assert features["score_margin"] == 1.0 and features["lexical_ratio"] == 0.0
    assert features["dense_similarity"] is None and features["dense_missing"] == 1.0
    assert features["rerank_score"] == 0.9 and features["rerank_missing"] == 0.0
    assert features["missing_term"] == 0.0 and features["coverage"] == 1.0


def test_disagreeing_lists_and_a_best_hit_missing_from_the_dense_list() -> None:
    hits = [
        hit("a", "x", "", 1.0, lexical_rank=1, lexical_score=4.0),
        hit("b", "y", "", 0.9, lexical_rank=2, lexical_score=4.0, dense_rank=1, dense_score=0.8),
    ]
    features = gate_features(EQUAL, hits)
    assert features is not None
    assert (
        features["dense_similarity"] == 0.0
        and features["agreement"] == 1.0
        and features["lexical_ratio"] == 1.0
    )
    features = gate_features(EQUAL, list(reversed(hits)))
    assert features is not None and features["agreement"] == 0.0 and features["lexical_ratio"] == 1.0


def test_no_hits_no_features_and_no_terms_no_coverage() -> None:
    assert gate_features(EQUAL, []) is None
    features = gate_features(QueryTerms({}), [hit("a", "VPN", "")])
    assert features is not None and features["coverage"] == 0.0 and features["missing_term"] == 0.0
    assert features["lexical_ratio"] is None  # no lexical score: not measured


def test_the_model_is_a_logistic_regression_over_standardized_features() -> None:
    model = GateModel(
        features=["coverage", "dense_similarity"], means=[0.5, 0.3], scales=[0.25, 0.1],
        coefficients=[2.0, 1.0], intercept=-0.5, threshold=0.6,
    )  # fmt: skip
    assert model.logit({"coverage": 1.0, "dense_similarity": 0.4}) == pytest.approx(-0.5 + 4.0 + 1.0)
    # an unmeasured feature sits at its mean
    assert model.logit({"coverage": 0.5, "dense_similarity": None}) == pytest.approx(-0.5)
    assert model.probability({"coverage": 0.5}) == pytest.approx(1 / (1 + math.exp(0.5)))
    assert model.probability({"coverage": -1e6}) == pytest.approx(0.0)  # no overflow either way
    assert model.probability({"coverage": 1e6}) == pytest.approx(1.0)


def test_passing_uses_the_fitted_threshold_unless_overridden() -> None:
    model = only("coverage", threshold=0.6)  # P = sigmoid(coverage)
    features = {"coverage": 0.0}  # P = 0.5
    assert not model.passes(features)
    assert model.passes(features, threshold=0.5)
    assert not model.passes(None, threshold=0.0)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"features": ["shoe_size"]}, id="unknown-feature"),
        pytest.param({"means": [0.0, 1.0]}, id="lengths-differ"),
        pytest.param({"scales": [0.0]}, id="zero-scale"),
        pytest.param({"threshold": 1.5}, id="threshold-above-one"),
        pytest.param({"features": []}, id="no-features"),
        pytest.param({"extra": 1}, id="unknown-field"),
    ],
)
def test_bad_models_are_rejected(change: dict) -> None:
    data = {**only("coverage").model_dump(), **change}
    with pytest.raises(ValidationError):
        GateModel.model_validate(data)


def test_the_packaged_model_loads_and_names_its_provenance() -> None:
    model = packaged_model()
    assert model is packaged_model()
    assert set(model.features) <= set(FEATURES) and 0 < model.threshold < 1
    assert model.provenance


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(None, id="missing-file"),
        pytest.param("{not json", id="not-json"),
        pytest.param('{"features": ["coverage"]}', id="incomplete"),
    ],
)
def test_a_bad_model_file_is_a_config_error(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "gate.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match="kotae eval gate"):
        load_model(path)


def test_a_model_round_trips_through_its_file(tmp_path: Path) -> None:
    path = tmp_path / "gate.json"
    path.write_text(only("coverage").model_dump_json())
    assert load_model(path) == only("coverage")


HITS = [
    hit("vpn", "VPN", "connect from home", 1.0),
    hit("kit", "Kit", "home", 0.6),
    hit("odd", "x", "y", 0.2),
]


def evidence(parameters: PromptParameters, model: GateModel, query: str = "vpn home connect") -> list[str]:
    chosen = select_evidence(
        HITS, parameters, min_relevance=0.99, max_context_chars=10_000,
        query=query, statistics=Frequencies(10, {"vpn": 1, "home": 3, "connect": 2}), gate=model,
    )  # fmt: skip
    return [h.document.item_key for _, h in chosen]


def test_the_gate_opens_the_evidence_and_the_relative_floor_still_applies() -> None:
    # GIVEN a gate that answers when the best hit covers the question (min_relevance is not used)
    opened = evidence(PromptParameters(), only("coverage", 10.0, threshold=0.9))
    assert opened == ["vpn", "kit"]  # "odd" is below half the best hit's relevance


def test_the_gate_refuses_below_its_operating_point() -> None:
    assert evidence(PromptParameters(), only("coverage", -10.0)) == []


def test_a_prompt_versions_threshold_overrides_the_operating_point() -> None:
    model = only("unknown_terms", 1.0, threshold=0.9)  # P = 0.5: nothing is unknown
    assert evidence(PromptParameters(), model) == []
    assert evidence(PromptParameters(gate_threshold=0.5), model) == ["vpn", "kit"]


def test_a_prompt_versions_min_relevance_still_floors_the_sources() -> None:
    model = only("coverage", 10.0, threshold=0.5)
    assert evidence(PromptParameters(min_relevance=0.7, max_sources=4), model) == ["vpn"]
    assert evidence(PromptParameters(max_sources=1), model) == ["vpn"]


def test_without_the_query_the_threshold_gate_applies() -> None:
    chosen = select_evidence(HITS, PromptParameters(), min_relevance=0.5, max_context_chars=10_000)
    assert [h.document.item_key for _, h in chosen] == ["vpn", "kit"]
    assert select_evidence(HITS, PromptParameters(), min_relevance=1.5, max_context_chars=10_000) == []


def test_the_packaged_gate_is_used_by_default_and_no_hits_is_no_evidence() -> None:
    chosen = select_evidence(
        [], PromptParameters(gate_threshold=0.0), min_relevance=0.0, max_context_chars=10,
        query="vpn", statistics=Frequencies(1, {}),
    )  # fmt: skip
    assert chosen == []


@pytest.mark.parametrize("value", [pytest.param(-0.1, id="negative"), pytest.param(1.1, id="above-one")])
def test_the_gate_threshold_parameter_is_a_probability(value: float) -> None:
    with pytest.raises(ValidationError):
        PromptParameters(gate_threshold=value)


def test_questions_without_a_dense_score_are_served_by_the_lexical_model() -> None:
    # GIVEN a model whose own weights read the cosine and whose lexical model reads coverage
    model = only("dense_similarity", weight=10.0, threshold=0.5).model_copy(
        update={"lexical": only("coverage", weight=10.0, threshold=0.9)}
    )
    with_cosine = {"dense_similarity": 0.3, "dense_missing": 0.0, "coverage": 0.0}
    without = {"dense_similarity": None, "dense_missing": 1.0, "coverage": 0.2}
    # THEN each question is scored and cut by its regime's model
    assert model.serving(with_cosine) is model and model.serving(without) is model.lexical
    assert model.passes(with_cosine)  # sigmoid(3) = 0.95 >= 0.5
    assert not model.passes(without)  # sigmoid(2) = 0.88 < 0.9, the lexical model's own cut
    assert model.passes(without, threshold=0.8)  # a prompt version's threshold replaces either
    # AND a lexical model cannot nest another
    nested = model.model_dump()
    nested["lexical"]["lexical"] = only("coverage").model_dump()
    with pytest.raises(ValueError, match="cannot carry a lexical model"):
        GateModel.model_validate(nested)
