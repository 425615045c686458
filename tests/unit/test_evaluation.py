"""kotae.evaluation.retrieval: ranking metrics and BEIR loading."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from kotae.errors import InputError
from kotae.evaluation.retrieval import (
    BeirSet,
    corpus_items,
    dcg,
    evaluate,
    load_beir,
    mrr_at_k,
    ndcg_at_k,
    recall_at_k,
)
from kotae.models import Item

LOG2_3 = math.log2(3)  # 1.58496...

# d2 graded 2, d4 and d5 graded 1, d9 judged not relevant (0).
RELEVANT = {"d2": 2, "d4": 1, "d5": 1, "d9": 0}
RANKED = ["d1", "d2", "d3", "d4"]


# --- dcg ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gains", "expected"),
    [
        pytest.param([], 0.0, id="empty"),
        pytest.param([0, 0], 0.0, id="all-zero"),
        # (2^2 - 1) / log2(2) = 3
        pytest.param([2], 3.0, id="one-graded-2"),
        # 3/1 + 1/log2(3) + 0
        pytest.param([2, 1, 0], 3 + 1 / LOG2_3, id="graded"),
        # 0/1 + 3/log2(3) + 0/2 + 1/log2(5)
        pytest.param([0, 2, 0, 1], 3 / LOG2_3 + 1 / math.log2(5), id="gaps"),
    ],
)
def test_dcg(gains: list[int], expected: float) -> None:
    assert dcg(gains) == pytest.approx(expected)


# --- ndcg ----------------------------------------------------------------------------------------


def test_ndcg_graded() -> None:
    # top 3 of RANKED has gains [0, 2, 0]: dcg = 3 / log2(3) = 1.8928
    # ideal top 3 gains [2, 1, 1]:        3 + 1 / log2(3) + 1 / log2(4) = 4.1309
    expected = (3 / LOG2_3) / (3 + 1 / LOG2_3 + 1 / 2)
    assert ndcg_at_k(RANKED, RELEVANT, 3) == pytest.approx(expected)
    assert expected == pytest.approx(0.45820, abs=1e-5)


def test_ndcg_at_4_counts_d4() -> None:
    # gains [0, 2, 0, 1]: 3 / log2(3) + 1 / log2(5); ideal [2, 1, 1, 0]: 3 + 1/log2(3) + 1/2
    expected = (3 / LOG2_3 + 1 / math.log2(5)) / (3 + 1 / LOG2_3 + 1 / 2)
    assert ndcg_at_k(RANKED, RELEVANT, 4) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("ranked", "relevant", "k", "expected"),
    [
        pytest.param(["d2", "d4", "d5"], RELEVANT, 3, 1.0, id="ideal-order"),
        # only d2 in the top 1; the ideal top 1 is also d2
        pytest.param(["d2", "x"], RELEVANT, 1, 1.0, id="ideal-at-1"),
        # swapped: gains [1, 2] -> 1 + 3/log2(3); ideal [2, 1] -> 3 + 1/log2(3)
        pytest.param(["d4", "d2"], {"d2": 2, "d4": 1}, 2, (1 + 3 / LOG2_3) / (3 + 1 / LOG2_3), id="swapped"),
        pytest.param(["x", "y"], RELEVANT, 2, 0.0, id="nothing-relevant-retrieved"),
        pytest.param(["d9"], {"d9": 0}, 5, 0.0, id="only-zero-grades"),
        pytest.param(["a"], {}, 5, 0.0, id="no-judgements"),
        pytest.param([], RELEVANT, 3, 0.0, id="empty-ranking"),
    ],
)
def test_ndcg_cases(ranked: list[str], relevant: dict[str, int], k: int, expected: float) -> None:
    assert ndcg_at_k(ranked, relevant, k) == pytest.approx(expected)


# --- recall and mrr ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("k", "expected"),
    [
        pytest.param(1, 0.0, id="k1-none"),
        pytest.param(3, 1 / 3, id="k3-d2-of-three"),
        pytest.param(4, 2 / 3, id="k4-d2-d4-of-three"),
        pytest.param(10, 2 / 3, id="k-beyond-ranking"),
    ],
)
def test_recall_at_k(k: int, expected: float) -> None:
    # relevant (score >= 1) are d2, d4, d5; d9 (score 0) does not count
    assert recall_at_k(RANKED, RELEVANT, k) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("ranked", "relevant", "expected"),
    [
        pytest.param(["d9", "d1"], RELEVANT, 0.0, id="zero-grade-not-relevant"),
        pytest.param(["a"], {}, 0.0, id="no-judgements"),
        pytest.param(["a"], {"a": 0}, 0.0, id="only-zero-grades"),
        pytest.param(["d2", "d4", "d5"], RELEVANT, 1.0, id="all-found"),
    ],
)
def test_recall_edge_cases(ranked: list[str], relevant: dict[str, int], expected: float) -> None:
    assert recall_at_k(ranked, relevant, 10) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("ranked", "k", "expected"),
    [
        pytest.param(RANKED, 3, 1 / 2, id="first-relevant-at-2"),
        pytest.param(RANKED, 1, 0.0, id="cut-before-first-relevant"),
        pytest.param(["d4", "d2"], 2, 1.0, id="grade-1-counts"),
        pytest.param(["d9", "x", "d5"], 3, 1 / 3, id="zero-grade-skipped"),
        pytest.param(["x", "y"], 10, 0.0, id="none"),
    ],
)
def test_mrr_at_k(ranked: list[str], k: int, expected: float) -> None:
    assert mrr_at_k(ranked, RELEVANT, k) == pytest.approx(expected)


# --- evaluate ------------------------------------------------------------------------------------


def test_evaluate_averages_and_skips_queries_without_relevant_docs() -> None:
    # GIVEN two judged queries, one judged only with score 0, one not judged at all
    queries = {"q1": "one", "q2": "two", "q3": "three", "q4": "four"}
    qrels = {"q1": {"a": 1}, "q2": {"x": 2, "y": 1}, "q3": {"z": 0}}
    results = {"one": ["a", "b"], "two": ["y", "z", "x"], "three": ["z"], "four": ["a"]}
    calls: list[str] = []
    progress: list[int] = []

    def search(text: str) -> list[str]:
        calls.append(text)
        return results[text]

    # WHEN evaluated at k=2
    metrics = evaluate(search, queries, qrels, k=2, progress=lambda: progress.append(1))

    # THEN q1: ndcg 1, recall 1, mrr 1
    #      q2: top 2 [y, z] gains [1, 0] -> dcg 1; ideal [2, 1] -> 3 + 1/log2(3); recall 1/2; mrr 1
    assert metrics["ndcg@2"] == pytest.approx((1 + 1 / (3 + 1 / LOG2_3)) / 2)
    assert metrics["recall@2"] == pytest.approx(0.75)
    assert metrics["mrr@2"] == pytest.approx(1.0)
    assert metrics["queries"] == 2
    assert set(metrics) == {"ndcg@2", "recall@2", "mrr@2", "queries"}
    # AND skipped queries are never searched
    assert calls == ["one", "two"]
    assert len(progress) == 2


def test_evaluate_drops_duplicate_results() -> None:
    # [a, a, b] is [a, b] once duplicates go: b is found at rank 2 within k=2
    metrics = evaluate(lambda _: ["a", "a", "b"], {"q": "t"}, {"q": {"b": 1}}, k=2)
    assert metrics["recall@2"] == pytest.approx(1.0)
    assert metrics["mrr@2"] == pytest.approx(0.5)


def test_evaluate_with_no_judged_queries_is_zero() -> None:
    metrics = evaluate(lambda _: ["a"], {"q": "t"}, {}, k=10)
    assert metrics == {"ndcg@10": 0.0, "recall@10": 0.0, "mrr@10": 0.0, "queries": 0}


# --- load_beir -----------------------------------------------------------------------------------


def _write_beir(root: Path, *, split: str = "test") -> Path:
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text(
        json.dumps({"_id": "d1", "title": "VPN", "text": "Connect with the client."})
        + "\n\n"
        + json.dumps({"_id": "d2", "title": "経費", "text": "月末までに申請"}, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    (root / "queries.jsonl").write_text(
        "\n".join(
            json.dumps(q, ensure_ascii=False)
            for q in (
                {"_id": "q1", "text": "vpn?"},
                {"_id": "q2", "text": "経費"},
                {"_id": "q3", "text": "unjudged"},
            )
        ),
        encoding="utf-8",
    )
    (root / "qrels" / f"{split}.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t2\nq2\td1\t0\n\nq9\td1\t-1\n", encoding="utf-8"
    )
    return root


def test_load_beir(tmp_path: Path) -> None:
    beir = load_beir(_write_beir(tmp_path))
    assert beir == BeirSet(
        corpus=[
            {"_id": "d1", "title": "VPN", "text": "Connect with the client."},
            {"_id": "d2", "title": "経費", "text": "月末までに申請"},
        ],
        # q3 has no judgements, so it is not loaded
        queries={"q1": "vpn?", "q2": "経費"},
        # the header and the blank line are skipped; negative scores are kept
        qrels={"q1": {"d1": 1}, "q2": {"d2": 2, "d1": 0}, "q9": {"d1": -1}},
    )


def test_load_beir_other_split(tmp_path: Path) -> None:
    _write_beir(tmp_path, split="dev")
    assert load_beir(tmp_path, split="dev").qrels["q1"] == {"d1": 1}
    with pytest.raises(InputError, match=r"test\.tsv"):
        load_beir(tmp_path)


def test_load_beir_empty_directory_names_every_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        load_beir(tmp_path)
    message = str(caught.value)
    assert message == (
        "not a BEIR directory, missing: "
        f"{tmp_path / 'corpus.jsonl'}, {tmp_path / 'queries.jsonl'}, {tmp_path / 'qrels' / 'test.tsv'}"
    )


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("corpus.jsonl", id="corpus"),
        pytest.param("queries.jsonl", id="queries"),
        pytest.param("qrels/test.tsv", id="qrels"),
    ],
)
def test_load_beir_missing_one_file(tmp_path: Path, name: str) -> None:
    (_write_beir(tmp_path) / name).unlink()
    with pytest.raises(InputError) as caught:
        load_beir(tmp_path)
    assert str(caught.value) == f"not a BEIR directory, missing: {tmp_path / name}"


@pytest.mark.parametrize(
    "name", [pytest.param("corpus.jsonl", id="corpus"), pytest.param("queries.jsonl", id="queries")]
)
def test_load_beir_non_json_line_names_path_and_line(tmp_path: Path, name: str) -> None:
    # GIVEN a file whose line 3 (after a blank line 2) is not JSON
    _write_beir(tmp_path)
    path = tmp_path / name
    path.write_text('{"_id": "q1", "text": "ok"}\n\n{not json\n', encoding="utf-8")
    # WHEN loaded THEN the error points at path:3
    with pytest.raises(InputError) as caught:
        load_beir(tmp_path)
    assert str(caught.value).startswith(f"{path}:3: not JSON (")


def test_load_beir_line_without_id_is_input_error(tmp_path: Path) -> None:
    _write_beir(tmp_path)
    (tmp_path / "queries.jsonl").write_text('{"text": "no id"}\n', encoding="utf-8")
    with pytest.raises(InputError):
        load_beir(tmp_path)


def test_corpus_items() -> None:
    items = list(corpus_items([{"_id": "d1", "title": "T", "text": "X"}, {"_id": "d2"}]))
    assert items == [
        Item(key="d1", kind="passage", attributes={"title": "T", "text": "X"}),
        Item(key="d2", kind="passage", attributes={"title": "", "text": ""}),
    ]
