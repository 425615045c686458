"""Model routing through the real pipeline, a real Bedrock client and the Converse stand-in:
which model Converse is asked for, and the route and cost every Answer (and the log) carries."""

from __future__ import annotations

import json

import pytest

from bot.profiles import ChannelProfile
from kotae.answer.pipeline import AskOptions
from kotae.app import Kotae
from kotae.models import Turn
from kotae.ops.answer_log import answer_record
from kotae.settings import load_settings
from tests.conftest import PROMPTS, SAMPLES, faq
from tests.standins.bedrock import bedrock_standin, reply

LIGHT = "jp.anthropic.claude-haiku-4-5-20251001-v1:0"
STRONG = "jp.anthropic.claude-sonnet-4-5-20250929-v1:0"
PINNED = "global.anthropic.claude-sonnet-4-20250514-v1:0"
# The stand-in reports 321 input and 45 output tokens for every call.
LIGHT_USD, STRONG_USD = 0.000546, 0.001638


@pytest.fixture
def bedrock(monkeypatch):
    import kotae.aws

    kotae.aws.client.cache_clear()  # clients are cached per process, and each stand-in has its own port
    with bedrock_standin() as state:
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", state.url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        yield state


@pytest.fixture
def on_bedrock(store, tmp_path):
    """kotae with the Bedrock generator (built from settings, so per-model generators are real)."""

    def make(**settings) -> Kotae:
        config = load_settings(**{"data_dir": tmp_path / "data", "prompts_dir": PROMPTS, "generator": "bedrock",
                                  "aws_region": "ap-northeast-1", "min_relevance": 0.0, **settings})  # fmt: skip
        return Kotae(config, store=store)

    return make


@pytest.fixture
def routed(bedrock, on_bedrock):
    """kotae on Bedrock with routing on: one VPN entry, four printer entries."""

    def make(**settings):
        kotae = on_bedrock(routing="auto", light_model_id=LIGHT, strong_model_id=STRONG, **settings)
        kotae.indexer.index(faq("vpn", "How do I connect to the VPN?", "Open the GlobalProtect app."))
        for n in range(4):
            kotae.indexer.index(faq(f"printer-{n}", f"Printer problem {n}", f"For printer problem {n}, restart it."))
        return kotae

    return make


def models_called(bedrock) -> list[str]:
    return [call["modelId"] for call in bedrock.calls("converse-stream")]


def test_one_short_faq_goes_to_the_light_model(bedrock, routed) -> None:
    answer = routed().pipeline.ask("How do I connect to the VPN?")
    assert models_called(bedrock) == [LIGHT]
    assert (answer.route, answer.model_id, answer.cost_usd) == ("light", LIGHT, LIGHT_USD)
    assert "1 short source" in (answer.route_reason or "")


def test_many_sources_go_to_the_strong_model(bedrock, routed) -> None:
    answer = routed().pipeline.ask("printer problem restart printer")
    assert models_called(bedrock) == [STRONG]
    assert (answer.route, answer.model_id, answer.cost_usd) == ("strong", STRONG, STRONG_USD)
    assert "sources (light takes at most 2)" in (answer.route_reason or "")


def test_a_long_thread_goes_to_the_strong_model(bedrock, routed) -> None:
    history = [Turn(role="user" if n % 2 == 0 else "assistant", text=f"turn {n} about the VPN") for n in range(6)]
    bedrock.replies = [reply("How do I connect to the VPN?")]  # the follow-up's standalone rewrite
    answer = routed().pipeline.ask("How do I connect to the VPN?", history=history)
    # the rewrite is the configured (light) model's job; the answer the strong one's
    assert [c["modelId"] for c in bedrock.calls("converse")] == [LIGHT] and models_called(bedrock) == [STRONG]
    assert answer.route == "strong" and "thread turns" in (answer.route_reason or "")


def test_a_channel_profile_pins_a_model_or_a_route(bedrock, routed) -> None:
    kotae = routed()
    pinned = ChannelProfile(model_id=PINNED).ask_options()
    first = kotae.pipeline.ask("printer problem restart printer", options=pinned)
    strong = ChannelProfile(route="strong").ask_options()
    second = kotae.pipeline.ask("How do I connect to the VPN?", options=strong)
    assert models_called(bedrock) == [PINNED, STRONG]
    assert (first.route, first.model_id, second.route) == ("pinned", PINNED, "strong")
    assert first.cost_usd == STRONG_USD  # Sonnet 4 is priced as Sonnet 4.5


def test_routing_off_keeps_the_generation_model_unless_a_profile_routes(bedrock, on_bedrock) -> None:
    kotae = on_bedrock(strong_model_id=STRONG)
    kotae.indexer.index(faq("vpn", "How do I connect to the VPN?", "Open the GlobalProtect app."))
    plain = kotae.pipeline.ask("How do I connect to the VPN?")
    routed = kotae.pipeline.ask("How do I connect to the VPN?", options=AskOptions(route="strong"))
    assert models_called(bedrock) == [LIGHT, STRONG]  # the default generation model is the Haiku profile
    assert (plain.route, plain.route_reason) == ("none", "routing is off (KOTAE_ROUTING=off)")
    assert routed.route == "strong"


def test_no_evidence_asks_no_model_and_costs_nothing(bedrock, routed) -> None:
    answer = routed(min_relevance=0.99).pipeline.ask("What is the cafeteria menu on Friday?")
    assert not answer.found and models_called(bedrock) == []
    assert (answer.route, answer.cost_usd) == ("none", 0.0)


def test_the_log_carries_route_reason_and_cost(bedrock, routed) -> None:
    answer = routed().pipeline.ask("How do I connect to the VPN?")
    record = answer_record(answer, answer_id="a1", outcome="answered")
    assert list(record)[-3:] == ["route", "route_reason", "cost_usd"]
    assert (record["route"], record["cost_usd"]) == ("light", LIGHT_USD)


def test_kotae_ask_json_shows_the_route_and_cost(run) -> None:
    # GIVEN the sample knowledge on the embedded default (the extractive answerer, no model)
    assert run("ingest", str(SAMPLES / "knowledge.jsonl"))[0] == 0
    # WHEN a question is asked for JSON THEN its route, reason and (zero) cost are in it
    code, out, _ = run("ask", "How do I connect to the VPN?", "--json")
    answer = json.loads(out)
    assert code == 0 and answer["found"] and answer["route"] == "none" and answer["cost_usd"] == 0.0
    assert answer["route_reason"] == "the extractive answerer has no model to choose"


def test_eval_reports_cost_per_answer_and_quality_per_route(bedrock, routed, tmp_path) -> None:
    # GIVEN a question for the light route, one for the strong route and an unanswerable one
    from kotae.evaluation.answers import EvalCase, run_eval
    from kotae.evaluation.report import write_reports

    kotae = routed(min_relevance=0.3)
    bedrock.answers = ["Open the app [S1].", "Restart it [S1][S2].", "unused"]
    cases = [
        EvalCase(id="vpn", question="How do I connect to the VPN?", expected_keys=["vpn"]),
        EvalCase(id="printers", question="printer problem restart printer", expected_keys=["printer-0"]),
        EvalCase(id="menu", question="cafeteria menu friday lunch", answerable=False),
    ]
    # WHEN they are evaluated
    run = run_eval(cases, ["v1"], lambda case, version: kotae.pipeline.ask(case.question), dataset="d")
    figures = run.summary()["versions"]["v1"]
    # THEN both routes were used, each with its quality and cost
    assert models_called(bedrock) == [LIGHT, STRONG]
    assert figures["routes"]["light"] == {
        "questions": 1, "answer_rate": 1.0, "accuracy": 1.0, "cost_usd_per_answer": LIGHT_USD,
    }  # fmt: skip
    assert figures["routes"]["strong"]["questions"] == 1 and figures["routes"]["strong"]["accuracy"] == 1.0
    assert figures["routes"]["none"] == {"questions": 1, "answer_rate": None, "accuracy": 1.0, "cost_usd_per_answer": 0.0}
    assert figures["cost_usd_total"] == round(LIGHT_USD + STRONG_USD, 6) and figures["unpriced_answers"] == 0
    assert figures["cost_usd_per_answer"] == round((LIGHT_USD + STRONG_USD) / 3, 8)
    # AND the reports show them
    paths = write_reports(run, tmp_path / "report")
    markdown = paths["markdown"].read_text(encoding="utf-8")
    assert "## Cost and routes" in markdown and f"| light | v1 | 1 | 1 | 1 | {LIGHT_USD} |" in markdown
    assert "0.000728" in markdown  # (0.000546 + 0.001638) / 3 per answer
    html = paths["html"].read_text(encoding="utf-8")
    assert "<h2>Cost and routes</h2>" in html and f"<td>Route strong: cost per answer (USD)</td><td>{STRONG_USD}</td>" in html
    cases_json = {c["id"]: c for c in json.loads(paths["json"].read_text())["cases"]}
    assert (cases_json["vpn"]["route"], cases_json["printers"]["route"]) == ("light", "strong")


def test_kotae_doctor_checks_both_routing_models(run, monkeypatch) -> None:
    monkeypatch.setenv("KOTAE_ROUTING", "auto")
    monkeypatch.setenv("KOTAE_STRONG_MODEL_ID", "anthropic.claude-sonnet-4-5-20250929-v1:0")  # a bare id
    monkeypatch.setenv("KOTAE_AWS_REGION", "ap-northeast-1")
    code, out, _ = run("doctor", "--json")
    report = json.loads(out)
    assert code == 1 and set(report["models"]) == {"generation", "light", "strong"}
    assert report["models"]["light"] == LIGHT
    assert any("only through an inference profile" in w for w in report["warnings"])
