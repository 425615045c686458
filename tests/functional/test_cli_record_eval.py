"""`kotae eval answers` on record questions end to end: a small generated set indexed with
--knowledge into a throwaway store, answered offline (deterministic parser, extractive answerer),
and the sample FAQ questions beside it."""

from __future__ import annotations

import json
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest

from kotae.evaluation.records_set import write_set

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
TARGET = 0.95  # issue 12: exact-answer accuracy offline


@pytest.fixture(scope="module")
def record_set(tmp_path_factory) -> Path:
    # The sample's records are loaded beside the generated ones, so they count in the expectations.
    directory = tmp_path_factory.mktemp("records")
    write_set(
        directory,
        seed=7,
        records=2_000,
        executions=10,
        start=date(2026, 11, 5),
        base=[SAMPLES / "knowledge.jsonl"],
    )
    return directory


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_record_questions_are_scored_exactly_beside_the_faq_figures(run, record_set, tmp_path) -> None:
    # GIVEN the sample knowledge and the generated records, the sample FAQ set and the record set
    faq_questions = str(SAMPLES / "eval" / "questions.jsonl")
    knowledge = [
        "--knowledge",
        str(SAMPLES / "knowledge.jsonl"),
        "--knowledge",
        str(record_set / "records.jsonl"),
    ]
    # WHEN both sets are evaluated together, and the FAQ set alone on the same knowledge
    code, out, err = run(
        "eval", "answers", faq_questions, str(record_set / "questions.jsonl"), *knowledge,
        "--out", str(tmp_path / "both"), "--json",
    )  # fmt: skip
    assert code == 0, err
    _, faq_out, _ = run(
        "eval", "answers", faq_questions, *knowledge, "--out", str(tmp_path / "faq"), "--json"
    )
    # THEN every record question is scored, and the FAQ figures are those of the FAQ set alone
    summary, faq_only = json.loads(out), json.loads(faq_out)["versions"]["v1"]
    figures = summary["versions"]["v1"]
    questions = _lines(record_set / "questions.jsonl")
    assert figures["record_questions"] == len(questions) >= 60 and figures["errors"] == 0
    assert (
        figures["questions"] == faq_only["questions"] + len(questions) and faq_only["record_questions"] == 0
    )
    for name in (
        "answerable",
        "unanswerable",
        "retrieval_hit_rate",
        "answer_rate",
        "expected_cited_rate",
        "accuracy",
    ):
        assert figures[name] == faq_only[name], name
    assert summary["settings"]["knowledge"].startswith(f"{72 + 2_000} items from ")
    # and the exact-answer rate is computed from the per-question verdicts, and meets the target
    files = {name: Path(path) for name, path in summary["files"].items()}
    saved = json.loads(files["json"].read_text())
    cases = [c for c in saved["cases"] if c["expected_records"] is not None]
    exact = sum(1 for c in cases if c["record_problems"] == [])
    assert figures["record_exact"] == exact and figures["record_exact_rate"] == round(exact / len(cases), 4)
    misses = {c["id"]: c["record_problems"] for c in cases if c["record_problems"]}
    assert figures["record_exact_rate"] >= TARGET, misses
    assert f"Records: v1 records: exact {exact}/{len(cases)}" in files["markdown"].read_text()
    HTMLParser().feed(files["html"].read_text())


def test_the_text_summary_has_the_records_line(run, record_set, tmp_path) -> None:
    code, out, _ = run(
        "eval", "answers", str(record_set / "questions.jsonl"), "--knowledge", str(SAMPLES / "knowledge.jsonl"),
        "--knowledge", str(record_set / "records.jsonl"), "--limit", "5", "--out", str(tmp_path / "r"),
    )  # fmt: skip
    assert code == 0 and "v1: " in out and "records: exact " in out and "/5 (" in out


def test_a_bad_knowledge_line_stops_the_run_before_any_question(run, tmp_path) -> None:
    knowledge = tmp_path / "k.jsonl"
    knowledge.write_text(
        '{"item_key": "a", "kind": "faq", "question": "q", "answer": "a"}\n{"kind": "faq"}\n'
    )
    code, out, err = run(
        "eval", "answers", str(SAMPLES / "eval" / "questions.jsonl"), "--knowledge", str(knowledge),
        "--out", str(tmp_path / "r"),
    )  # fmt: skip
    assert code == 2 and "--knowledge" in err and "line 2" in err and "hit rate" not in out


def test_a_missing_knowledge_file_is_an_input_error(run, tmp_path) -> None:
    code, _, err = run(
        "eval", "answers", str(SAMPLES / "eval" / "questions.jsonl"), "--knowledge", str(tmp_path / "nope.jsonl"),
        "--out", str(tmp_path / "r"),
    )  # fmt: skip
    assert code == 2 and "nope.jsonl" in err
