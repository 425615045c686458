"""Answer evaluation metrics on small fixtures whose right values are worked out by hand here."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from kotae.errors import InputError, JudgeReplyError, ProviderThrottled
from kotae.evaluation.answers import EvalCase, Grade, load_cases, parse_grade, run_eval, score_case, summarize
from kotae.evaluation.report import differing_cases, render_html, render_markdown, write_reports
from kotae.models import Answer, Citation, SearchHit, Usage
from tests.fakes import make_doc


def answer(text: str, hits: list[str], cited: list[tuple[str, str]], *, found: bool = True,
           ms: float = 10.0, tokens: int = 0, version: str = "v1") -> Answer:  # fmt: skip
    return Answer(
        question="q",
        text=text,
        found=found,
        hits=[SearchHit(document=make_doc(key), score=1.0, relevance=0.9) for key in hits],
        citations=[Citation(id=sid, key=key, title=key, score=0.9) for sid, key in cited],
        prompt_task="answer",
        prompt_version=version,
        model_id="m",
        usage=Usage(input_tokens=tokens, output_tokens=tokens // 10),
        timings_ms={"retrieve": ms / 2, "generate": ms / 2},
    )


CASES = [
    EvalCase(id="c1", question="q1", expected_keys=["a"]),
    EvalCase(id="c2", question="q2", expected_keys=["d", "e"]),  # either twin is right
    EvalCase(id="c3", question="q3", expected_keys=["f"]),
    EvalCase(id="c4", question="q4", answerable=False),
    EvalCase(id="c5", question="q5", answerable=False),
]
ANSWERS = {
    # found; expected "a" retrieved at rank 2 and cited; citations valid
    "c1": answer("A [S1].", ["b", "a", "c"], [("S1", "a")], ms=10, tokens=100),
    # found; "e" at rank 1 and cited; the text also cites S3, which it was never given
    "c2": answer("E [S1] and more [S3].", ["e"], [("S1", "e")], ms=20, tokens=200),
    # refused although answerable; "f" never retrieved
    "c3": answer("Not found.", ["g"], [], found=False, ms=30),
    # unanswerable but answered from an unrelated item
    "c4": answer("H [S1].", ["h"], [("S1", "h")], ms=40),
    # unanswerable and refused
    "c5": answer("Not found.", [], [], found=False, ms=50),
}
GRADES = {"c1": Grade(5, 4), "c2": Grade(3, 2), "c4": Grade(1, 1)}


def scored():
    return [score_case(case, ANSWERS[case.id]) for case in CASES]


def test_per_question_scores() -> None:
    c1, c2, c3, c4, c5 = scored()
    assert (c1.hit_rank, c2.hit_rank, c3.hit_rank) == (2, 1, None)
    assert c1.citations_valid and not c2.citations_valid and c4.citations_valid
    assert c1.expected_cited and c2.expected_cited and not c4.expected_cited
    assert [r.correct for r in (c1, c2, c3, c4, c5)] == [True, True, False, False, True]


def test_summary_figures_match_the_hand_computed_values() -> None:
    results = scored()
    for result in results:
        result.grade = GRADES.get(result.id)
    figures = summarize(results)
    assert (figures["questions"], figures["answerable"], figures["unanswerable"]) == (5, 3, 2)
    assert figures["retrieval_hit_rate"] == 0.6667  # c1, c2 of 3 answerable
    assert figures["retrieval_mrr"] == 0.5  # (1/2 + 1/1 + 0) / 3
    assert figures["answer_rate"] == 0.6667  # c1, c2 answered of 3
    assert figures["citation_validity"] == 0.6667  # c1, c4 valid of the 3 answered (c2 cites S3)
    assert figures["expected_cited_rate"] == 1.0  # c1, c2 of the 2 answered answerable
    assert figures["correct_refusal_rate"] == 0.5  # c5 of 2 unanswerable
    assert figures["false_refusal_rate"] == 0.3333  # c3 of 3 answerable
    assert figures["accuracy"] == 0.6  # c1, c2, c5 of 5
    assert figures["faithfulness"] == 3.0  # (5 + 3 + 1) / 3
    assert figures["correctness"] == 2.333  # (4 + 2 + 1) / 3
    assert figures["judged"] == 3
    assert (figures["latency_ms_p50"], figures["latency_ms_p95"]) == (30.0, 50.0)  # nearest rank of 10..50
    assert figures["input_tokens_mean"] == 60.0  # (100 + 200) / 5
    assert figures["output_tokens_mean"] == 6.0  # (10 + 20) / 5


def test_empty_groups_give_none_not_zero() -> None:
    only_unanswerable = [score_case(CASES[4], ANSWERS["c5"])]
    figures = summarize(only_unanswerable)
    assert figures["retrieval_hit_rate"] is None and figures["answer_rate"] is None
    assert figures["citation_validity"] is None and figures["faithfulness"] is None
    assert figures["correct_refusal_rate"] == 1.0


def test_run_eval_counts_a_failed_question_and_a_failed_grade() -> None:
    # GIVEN a pipeline that fails on c3 and a judge that cannot grade c2
    def ask(case: EvalCase, version: str) -> Answer:
        if case.id == "c3":
            raise ProviderThrottled("Bedrock throttled")
        return ANSWERS[case.id]

    def judge(case: EvalCase, result: Answer) -> Grade:
        if case.id == "c2":
            raise JudgeReplyError("not JSON")
        return GRADES[case.id]

    calls = []
    run = run_eval(CASES, ["v1", "v2"], ask, judge=judge, progress=lambda: calls.append(1))
    figures = run.summary()["versions"]["v1"]
    # THEN the failure is a wrong, answered-nothing question, and grades come from c1 and c4 only
    assert figures["errors"] == 1 and figures["accuracy"] == 0.6 and figures["false_refusal_rate"] == 0.3333
    assert figures["judged"] == 2 and figures["judge_errors"] == 1 and figures["faithfulness"] == 3.0
    assert len(calls) == 10 and set(run.summary()["versions"]) == {"v1", "v2"}
    failed = next(c for c in run.cases() if c["id"] == "c3")
    assert failed["error"].startswith("ProviderThrottled") and failed["correct"] is False


@pytest.mark.parametrize(
    ("reply", "grade"),
    [
        pytest.param('{"faithfulness": 5, "correctness": 4, "reason": "ok"}', (5, 4), id="json"),
        pytest.param(
            'Here you go:\n{"faithfulness": 2, "correctness": 1}\nThanks', (2, 1), id="prose-around"
        ),
    ],
)
def test_parse_grade_reads_the_judges_json(reply: str, grade: tuple[int, int]) -> None:
    parsed = parse_grade(reply)
    assert (parsed.faithfulness, parsed.correctness) == grade


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param("I think it is good.", id="no-json"),
        pytest.param('{"faithfulness": 5}', id="missing"),
        pytest.param('{"faithfulness": 6, "correctness": 3}', id="out-of-range"),
        pytest.param('{"faithfulness": true, "correctness": 3}', id="bool"),
        pytest.param('{"faithfulness": 4.5, "correctness": 3}', id="fraction"),
        pytest.param('{"faithfulness": 4, "correctness": 3', id="truncated"),
    ],
)
def test_parse_grade_refuses_anything_else(reply: str) -> None:
    with pytest.raises(JudgeReplyError):
        parse_grade(reply)


def test_load_cases_reports_bad_lines_and_never_skips_them(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(
        '{"id": "1", "question": "q", "expected_keys": ["a"]}\n\nnot json\n{"id": "3", "question": "q"}\n'
    )
    with pytest.raises(InputError, match=r"line 3: .*; line 4: an answerable question needs expected_keys"):
        load_cases(path)
    path.write_text("\n")
    with pytest.raises(InputError, match="no questions"):
        load_cases(path)
    with pytest.raises(InputError, match="cannot read"):
        load_cases(tmp_path / "missing.jsonl")


def two_version_run():
    def ask(case: EvalCase, version: str) -> Answer:
        if version == "v2" and case.id == "c4":  # v2 refuses the unanswerable c4
            return answer("Not found.", ["h"], [], found=False, version="v2")
        return ANSWERS[case.id]

    return run_eval(CASES, ["v1", "v2"], ask, dataset="fixture.jsonl", settings={"generator": "fake"})


def test_reports_compare_versions_and_list_the_questions_that_changed(tmp_path: Path) -> None:
    run = two_version_run()
    assert differing_cases(run) == [
        {"id": "c4", "answerable": False, "outcomes": {"v1": "wrong", "v2": "right (refused)"}}
    ]
    markdown = render_markdown(run)
    assert "| Right outcome | 0.6 | 0.8 | +0.2 |" in markdown
    assert "| Refused (unanswerable) | 0.5 | 1 | +0.5 |" in markdown
    assert "| c4 | no | wrong | right (refused) |" in markdown
    page = render_html(run)
    HTMLParser().feed(page)
    assert page.count("<svg") == 2 and "<title>v2: 0.8</title>" in page
    paths = write_reports(run, tmp_path / "out")
    saved = json.loads(paths["json"].read_text())
    assert saved["versions"]["v2"]["accuracy"] == 0.8 and len(saved["cases"]) == 10
    assert paths["markdown"].read_text() == markdown


def test_reports_that_cannot_be_written_are_an_input_error(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "report.md").mkdir()  # a directory where the Markdown file should go
    with pytest.raises(InputError, match="cannot write the reports"):
        write_reports(two_version_run(), target)


def test_the_llm_judge_renders_its_versioned_prompt_and_parses_the_grade() -> None:
    from kotae.answer.prompts import DirectorySource, PromptRegistry
    from kotae.evaluation.judge import LLMJudge
    from tests.conftest import PROMPTS
    from tests.fakes import FakeGenerator

    generator = FakeGenerator().enqueue('{"faithfulness": 4, "correctness": 5, "reason": "fine"}')
    judge = LLMJudge(PromptRegistry(DirectorySource(PROMPTS)), generator)
    case = EvalCase(id="c1", question="How?", expected_keys=["a"], reference="Like this.")
    grade = judge(case, ANSWERS["c1"])
    assert (grade.faithfulness, grade.correctness, grade.reason) == (4, 5, "fine")
    system, messages = generator.history[0]
    assert '"faithfulness": <1-5>' in system
    user = messages[0]["text"]
    assert '<source id="S1" key="a"' in user and '<source id="R1" key="b"' in user
    assert (
        "<reference_answer>\nLike this.\n</reference_answer>" in user
        and "<answer>\nA [S1].\n</answer>" in user
    )
