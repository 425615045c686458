"""Follow-up retrieval on the sample conversations, rewritten through the Bedrock stand-in
(bench/followups.py): the conversations file is sound, and rewriting finds what the follow-up
needs at least as often as the thread heuristic, which beats the follow-up alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.followups import (
    CONVERSATIONS,
    KNOWLEDGE,
    MODEL,
    hit_rates,
    load_conversations,
    loaded_kotae,
    measure,
)
from kotae.answer.condense import MAX_OUTPUT_TOKENS, condense
from kotae.models import Turn
from kotae.providers.generators import BedrockGenerator
from tests.standins.bedrock import bedrock_standin, runtime_client


@pytest.fixture
def report(tmp_path: Path) -> dict:
    with bedrock_standin() as bedrock:
        app = loaded_kotae(tmp_path)
        llm = BedrockGenerator(runtime_client(bedrock.url), model_id=MODEL)
        result = measure(app.retriever, app.prompts, llm, bedrock.answers.append, load_conversations())
        app.close()
        result["converse_calls"] = len(bedrock.calls("converse"))
    return result


def test_the_conversations_are_two_turns_in_both_languages_over_the_samples() -> None:
    conversations = load_conversations(CONVERSATIONS)
    keys = {json.loads(line)["item_key"] for line in KNOWLEDGE.read_text(encoding="utf-8").splitlines()}
    assert len(conversations) >= 12
    assert {c.lang for c in conversations} == {"ja", "en"}
    assert len({c.id for c in conversations}) == len(conversations)
    for case in conversations:
        assert [t.role for t in case.turns] == ["user", "assistant"]
        assert set(case.expected_keys) <= keys


def test_rewriting_finds_follow_ups_the_heuristic_and_the_follow_up_alone_miss(report: dict) -> None:
    assert report["conversations"] == report["rewrites_used"] == report["converse_calls"]
    alone, heuristic, rewritten = report["alone"], report["heuristic"], report["rewritten"]
    assert alone["hit@5"] < heuristic["hit@5"] <= rewritten["hit@5"]
    assert heuristic["hit@1"] < rewritten["hit@1"]
    for lang in ("ja", "en"):
        assert report[lang]["rewritten"]["hit@1"] >= report[lang]["heuristic"]["hit@1"]


@pytest.mark.parametrize(
    ("found", "expected", "rates"),
    [
        pytest.param([["a", "b"]], [["a"]], {"hit@1": 1.0, "hit@2": 1.0}, id="first"),
        pytest.param([["b", "a"]], [["a"]], {"hit@1": 0.0, "hit@2": 1.0}, id="second"),
        pytest.param([["b", "c", "a"]], [["a"]], {"hit@1": 0.0, "hit@2": 0.0}, id="beyond-k"),
        pytest.param([[], ["a"]], [["a"], ["a"]], {"hit@1": 0.5, "hit@2": 0.5}, id="nothing-found"),
    ],
)
def test_hit_rates(found, expected, rates) -> None:
    assert hit_rates(found, expected, 2) == rates


def test_the_rewrite_is_asked_for_with_a_small_output_budget(tmp_path: Path) -> None:
    with bedrock_standin() as bedrock:
        app = loaded_kotae(tmp_path)
        bedrock.answers.append("冷凍品の当日出荷の締め時間")
        llm = BedrockGenerator(runtime_client(bedrock.url), model_id=MODEL, max_tokens=1024)
        turns = [Turn(role="user", text="当日出荷の締めは？"), Turn(role="assistant", text="平日14:00です。")]
        condensed = condense("冷凍品は？", turns, llm, app.prompts)
        app.close()
    assert condensed.rewritten and condensed.query == "冷凍品の当日出荷の締め時間"
    (sent,) = bedrock.calls("converse")
    assert sent["inferenceConfig"]["maxTokens"] == MAX_OUTPUT_TOKENS
    assert "Japanese" in sent["system"][0]["text"]
