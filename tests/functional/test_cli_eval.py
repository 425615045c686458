"""`kotae eval answers` end to end: the sample questions on the embedded default, and with an
LLM judge through the Bedrock stand-in."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.standins.bedrock import bedrock_standin

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def test_two_prompt_versions_on_the_sample_questions(run, tmp_path) -> None:
    # GIVEN the sample knowledge on the embedded default (no LLM, so no judge)
    run("ingest", str(SAMPLES / "knowledge.jsonl"))
    # WHEN the sample questions are evaluated under v1 and v2
    code, out, _ = run(
        "eval", "answers", str(SAMPLES / "eval" / "questions.jsonl"),
        "-p", "v1", "-p", "v2", "--out", str(tmp_path / "report"), "--json",
    )  # fmt: skip
    # THEN both versions are scored on all 53 questions and the three files are written
    assert code == 0
    summary = json.loads(out)
    v1, v2 = summary["versions"]["v1"], summary["versions"]["v2"]
    assert v1["questions"] == v2["questions"] == 53 and v1["errors"] == v2["errors"] == 0
    assert v1["answerable"] == 43 and v1["judged"] == 0 and "not run" in summary["settings"]["judge"]
    # v2's stricter gate refuses at least as often as v1's, on both kinds of question
    assert v2["correct_refusal_rate"] >= v1["correct_refusal_rate"]
    assert v2["answer_rate"] <= v1["answer_rate"]
    files = {name: Path(path) for name, path in summary["files"].items()}
    assert json.loads(files["json"].read_text())["versions"]["v1"] == v1
    assert "| figure | v1 | v2 | change |" in files["markdown"].read_text()
    HTMLParser().feed(files["html"].read_text())


def test_a_missing_prompt_version_fails_before_the_run(run) -> None:
    code, _, err = run("eval", "answers", str(SAMPLES / "eval" / "questions.jsonl"), "-p", "v99")
    assert code == 1 and "no prompt template answer/v99" in err


def test_asking_for_a_judge_without_an_llm_is_a_settings_error(run) -> None:
    code, _, err = run("eval", "answers", str(SAMPLES / "eval" / "questions.jsonl"), "--judge")
    assert code == 2 and "KOTAE_GENERATOR=bedrock" in err


def test_a_bad_dataset_is_an_input_error(run, tmp_path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": 1}\n')
    code, _, err = run("eval", "answers", str(path))
    assert code == 2 and "line 1" in err


def test_an_unusable_report_directory_fails_before_the_run(run, tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    code, out, err = run(
        "eval", "answers", str(SAMPLES / "eval" / "questions.jsonl"), "--out", str(blocker / "r")
    )
    assert code == 2 and "cannot write the reports" in err and "hit rate" not in out


@pytest.fixture
def bedrock(monkeypatch):
    with bedrock_standin() as state:
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", state.url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("KOTAE_AWS_REGION", "ap-northeast-1")
        monkeypatch.setenv("KOTAE_GENERATOR", "bedrock")
        monkeypatch.setenv("KOTAE_GENERATION_MODEL_ID", "apac.anthropic.claude-3-5-haiku-20241022-v1:0")
        monkeypatch.setenv("KOTAE_JUDGE_MODEL_ID", "apac.anthropic.claude-sonnet-4-20250514-v1:0")
        yield state


def test_with_bedrock_the_judge_grades_each_answer(run, bedrock, tmp_path) -> None:
    # GIVEN two answerable questions; the model answers the first and refuses the second
    run("ingest", str(SAMPLES / "knowledge.jsonl"))
    dataset = tmp_path / "q.jsonl"
    dataset.write_text(
        '{"id": "a", "question": "How do I connect to the VPN from home?", "expected_keys": ["faq-en-003"]}\n'
        '{"id": "b", "question": "How do I claim travel expenses?", "expected_keys": ["faq-en-004"]}\n'
    )
    bedrock.answers.extend(
        [
            "Use GlobalProtect [S1].",
            '{"faithfulness": 5, "correctness": 4, "reason": "supported"}',
            "<no_answer/>",
        ]
    )
    # WHEN evaluated with the judge
    code, out, _ = run("eval", "answers", str(dataset), "--json", "--out", str(tmp_path / "r"))
    # THEN the answered question is graded by the judge model with the judge prompt
    assert code == 0
    figures = json.loads(out)["versions"]["v1"]
    assert figures["judged"] == 1 and figures["faithfulness"] == 5.0 and figures["correctness"] == 4.0
    judged = bedrock.calls("converse")
    assert len(judged) == 1 and judged[0]["modelId"] == "apac.anthropic.claude-sonnet-4-20250514-v1:0"
    assert "You grade answers" in judged[0]["system"][0]["text"]
    assert figures["input_tokens_mean"] > 0
