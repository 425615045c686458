"""kotae.evaluation.retrieval: BEIR loading and evaluate() (the figures themselves: test_retrieval_metrics.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from kotae.errors import InputError
from kotae.evaluation.retrieval import BeirSet, corpus_items, evaluate, load_beir
from kotae.models import Item

LOG2_3 = math.log2(3)  # 1.58496...


# --- evaluate ------------------------------------------------------------------------------------


def test_evaluate_averages_over_the_judged_queries_as_beir_does() -> None:
    # GIVEN q1 and q2 judged relevant, q3 judged only with score 0, q4 with no qrels at all,
    #       q5 judged but finding nothing
    queries = {"q1": "one", "q2": "two", "q3": "three", "q4": "four", "q5": "five"}
    qrels = {"q1": {"a": 1}, "q2": {"x": 2, "y": 1}, "q3": {"z": 0}, "q5": {"a": 1}}
    results = {"one": ["a", "b"], "two": ["y", "z", "x"], "three": ["z"], "four": ["a"], "five": []}
    calls: list[str] = []
    progress: list[int] = []

    def search(text: str) -> list[str]:
        calls.append(text)
        return results[text]

    # WHEN evaluated at k=2
    metrics = evaluate(search, queries, qrels, k=2, progress=lambda: progress.append(1))

    # THEN q1: ndcg 1, recall 1, mrr 1
    #      q2: top 2 [y, z] linear gains [1, 0] -> dcg 1; ideal [2, 1] -> 2 + 1/log2(3); recall 1/2; mrr 1
    #      q3 (no relevant document) and q5 (no hits) score 0 and count, as in BEIR
    assert metrics["ndcg@2"] == pytest.approx((1 + 1 / (2 + 1 / LOG2_3)) / 4)
    assert metrics["recall@2"] == pytest.approx(1.5 / 4)
    assert metrics["mrr@2"] == pytest.approx(2 / 4)
    assert metrics["queries"] == 4
    assert set(metrics) == {"ndcg@2", "recall@2", "mrr@2", "queries", "metrics_provider", "metrics_library"}
    assert metrics["metrics_provider"] == {
        "ndcg@2": "pytrec_eval",
        "recall@2": "pytrec_eval",
        "mrr@2": "msmarco",
    }
    assert metrics["metrics_library"].startswith("ir-measures ")
    # AND the query without qrels is never searched
    assert calls == ["one", "two", "three", "five"]
    assert len(progress) == 4


def test_evaluate_drops_duplicate_results() -> None:
    # [a, a, b] is [a, b] once duplicates go: b is found at rank 2 within k=2
    metrics = evaluate(lambda _: ["a", "a", "b"], {"q": "t"}, {"q": {"b": 1}}, k=2)
    assert metrics["recall@2"] == pytest.approx(1.0)
    assert metrics["mrr@2"] == pytest.approx(0.5)


@pytest.mark.parametrize(
    "qrels", [pytest.param({}, id="no-qrels"), pytest.param({"q": {}}, id="empty-judgements")]
)
def test_evaluate_with_no_judged_queries_is_zero(qrels: dict[str, dict[str, int]]) -> None:
    metrics = evaluate(lambda _: ["a"], {"q": "t"}, qrels, k=10)
    assert {k: v for k, v in metrics.items() if not k.startswith("metrics_")} == {
        "ndcg@10": 0.0,
        "recall@10": 0.0,
        "mrr@10": 0.0,
        "queries": 0,
    }


def test_evaluate_scores_only_the_queries_it_is_given() -> None:
    # GIVEN qrels for two queries but only q1 asked (as with --limit): q2 does not count as a miss
    metrics = evaluate(lambda _: ["a"], {"q1": "t"}, {"q1": {"a": 1}, "q2": {"b": 1}}, k=10)
    assert metrics["queries"] == 1 and metrics["ndcg@10"] == 1.0


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
