"""Bedrock adapters through a real botocore client against the local stand-in."""

from __future__ import annotations

import pytest

from kotae.errors import ConfigError, ProviderError, ProviderThrottled, ProviderUnavailable
from kotae.models import Generation
from kotae.providers.base import GenerationContext
from kotae.providers.embedders import TITAN_MAX_CHARS, TitanEmbedder, truncate_for_titan
from kotae.providers.generators import BedrockGenerator
from tests.standins.bedrock import Fault, bedrock_standin, runtime_client, titan_vector

CONTEXT = GenerationContext(question="q", lang="en")
MODEL = "apac.anthropic.claude-sonnet-4-20250514-v1:0"


@pytest.fixture
def bedrock():
    with bedrock_standin() as state:
        yield state


def test_converse_request_and_response(bedrock) -> None:
    bedrock.answers.append("Use GlobalProtect [S1].")
    generator = BedrockGenerator(runtime_client(bedrock.url), model_id=MODEL, max_tokens=300, temperature=0.2)
    generation = generator.generate("system rules", [{"role": "user", "text": "hello"}], context=CONTEXT)
    assert generation == Generation(
        text="Use GlobalProtect [S1].",
        model_id=MODEL,
        usage={"input_tokens": 321, "output_tokens": 45},
        stop_reason="end_turn",
    )
    sent = bedrock.calls("converse")[0]
    assert sent["modelId"] == MODEL
    assert sent["system"] == [{"text": "system rules"}]
    assert sent["messages"] == [{"role": "user", "content": [{"text": "hello"}]}]
    assert sent["inferenceConfig"] == {"maxTokens": 300, "temperature": 0.2}


def test_converse_stream_yields_deltas_then_usage(bedrock) -> None:
    bedrock.answers.append("Streaming works fine [S2].")
    generator = BedrockGenerator(runtime_client(bedrock.url), model_id=MODEL)
    events = list(generator.stream("", [{"role": "user", "text": "hi"}], context=CONTEXT))
    *deltas, final = events
    assert "".join(deltas) == "Streaming works fine [S2]." and len(deltas) == 6
    assert final.usage.output_tokens == 45 and final.stop_reason == "end_turn"
    assert "system" not in bedrock.calls("converse-stream")[0]


def test_throttling_is_retried_by_botocore(bedrock) -> None:
    bedrock.faults.extend([Fault(429, "ThrottlingException"), Fault(503, "ServiceUnavailableException")])
    generator = BedrockGenerator(runtime_client(bedrock.url, max_attempts=3), model_id=MODEL)
    assert generator.generate("", [{"role": "user", "text": "x"}], context=CONTEXT).text
    assert len(bedrock.calls("converse")) == 3


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        pytest.param(Fault(429, "ThrottlingException"), ProviderThrottled, id="throttled"),
        pytest.param(Fault(503, "ServiceUnavailableException"), ProviderUnavailable, id="unavailable"),
        pytest.param(Fault(400, "ValidationException", "bad model"), ProviderError, id="validation"),
        pytest.param(Fault(403, "AccessDeniedException", "no access"), ProviderError, id="denied"),
    ],
)
def test_errors_left_after_retries_are_translated(bedrock, fault, error) -> None:
    bedrock.faults.extend([fault, fault])
    generator = BedrockGenerator(runtime_client(bedrock.url, max_attempts=2), model_id=MODEL)
    with pytest.raises(error) as caught:
        generator.generate("", [{"role": "user", "text": "x"}], context=CONTEXT)
    assert MODEL in str(caught.value)
    bedrock.faults[:] = [fault, fault]
    with pytest.raises(error):
        list(generator.stream("", [{"role": "user", "text": "x"}], context=CONTEXT))


def test_unreachable_endpoint_is_unavailable() -> None:
    with bedrock_standin() as state:
        url = state.url
    generator = BedrockGenerator(runtime_client(url, max_attempts=1), model_id=MODEL)
    with pytest.raises(ProviderUnavailable):
        generator.generate("", [{"role": "user", "text": "x"}], context=CONTEXT)


def test_titan_request_body_truncation_and_concurrency(bedrock) -> None:
    embedder = TitanEmbedder(runtime_client(bedrock.url), dimensions=256, normalize=True, concurrency=4)
    texts = ["short", "", "x" * (TITAN_MAX_CHARS + 10)] + [f"text {i}" for i in range(10)]
    vectors = embedder.embed(texts)
    assert len(vectors) == 13 and all(len(v) == 256 for v in vectors)
    assert vectors[0] == pytest.approx(titan_vector("short", 256))
    bodies = bedrock.calls("invoke")
    assert {b["modelId"] for b in bodies} == {"amazon.titan-embed-text-v2:0"}
    assert {(b["dimensions"], b["normalize"]) for b in bodies} == {(256, True)}
    assert max(len(b["inputText"]) for b in bodies) == 8000 * 3  # about 8,000 tokens of Latin text
    assert " " in {b["inputText"] for b in bodies}  # an empty text is sent as one space, not refused


def test_titan_throttling_retried_then_translated(bedrock) -> None:
    bedrock.faults.append(Fault(429, "ThrottlingException"))
    embedder = TitanEmbedder(runtime_client(bedrock.url, max_attempts=2), dimensions=512)
    assert len(embedder.embed(["one"])[0]) == 512
    bedrock.faults.extend([Fault(429, "ThrottlingException")] * 2)
    with pytest.raises(ProviderThrottled, match="titan"):
        embedder.embed(["two"])


def test_titan_wrong_dimensions() -> None:
    with pytest.raises(ConfigError, match="KOTAE_EMBEDDING_DIMENSIONS"):
        TitanEmbedder(object(), dimensions=300)


def test_titan_bad_response_shape() -> None:
    class Client:
        def invoke_model(self, **kwargs):
            import io

            return {"body": io.BytesIO(b'{"embedding": [0.1]}')}

    with pytest.raises(ProviderError, match="no 1024-dimension embedding"):
        TitanEmbedder(Client()).embed(["x"])


@pytest.mark.parametrize(
    ("text", "length"),
    [
        pytest.param("short text", 10, id="short-unchanged"),
        pytest.param("a" * 8000, 8000, id="at-budget"),
        pytest.param("返" * 9000, 8000, id="japanese-one-token-a-character"),
        pytest.param("word " * 10_000, 24_000, id="latin-three-characters-a-token"),
        pytest.param("x" * 80_000, 24_000, id="over-50k-characters"),
    ],
)
def test_truncate_for_titan(text: str, length: int) -> None:
    assert len(truncate_for_titan(text)) == length


def test_a_channel_model_is_built_once_and_used_for_its_answers(bedrock, monkeypatch, tmp_path) -> None:
    # GIVEN kotae on Bedrock with the sample knowledge
    from pathlib import Path

    from kotae.answer.pipeline import AskOptions
    from kotae.app import Kotae
    from kotae.indexing.loader import read_items
    from kotae.settings import load_settings

    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", bedrock.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    app = Kotae(load_settings(data_dir=tmp_path, generator="bedrock", aws_region="ap-northeast-1",
                              generation_model_id=MODEL))  # fmt: skip
    samples = Path(__file__).resolve().parents[2] / "samples" / "knowledge.jsonl"
    app.indexer.index_many([(item, None) for _, item in read_items(samples)])
    # WHEN two questions name another model (a channel profile's) and one does not
    other = "jp.anthropic.claude-sonnet-4-5-20250929-v1:0"
    for model in (other, other, None):
        app.pipeline.ask("How do I connect to the VPN from home?", options=AskOptions(model_id=model))
    # THEN Converse got that model twice, then the configured one, and the generator was built once
    assert [c["modelId"] for c in bedrock.calls("converse-stream")] == [other, other, MODEL]
    assert app.generator_for(other) is app.generator_for(other)


GUARDRAIL = {"guardrailIdentifier": "gr-abc123", "guardrailVersion": "3"}


@pytest.mark.parametrize("streaming", [False, True], ids=["converse", "converse-stream"])
def test_a_guardrail_goes_into_every_call_and_a_block_is_reported(bedrock, streaming: bool) -> None:
    bedrock.guardrail_blocks = ("salary of",)
    generator = BedrockGenerator(runtime_client(bedrock.url), model_id=MODEL, guardrail=GUARDRAIL)
    ask = [{"role": "user", "text": "What is the salary of Taro?"}]
    if streaming:
        *_, final = list(generator.stream("", ask, context=CONTEXT))
        sent = bedrock.calls("converse-stream")[0]
        assert sent["guardrailConfig"] == {**GUARDRAIL, "trace": "disabled", "streamProcessingMode": "sync"}
    else:
        final = generator.generate("", ask, context=CONTEXT)
        assert bedrock.calls("converse")[0]["guardrailConfig"] == {**GUARDRAIL, "trace": "disabled"}
    assert final.stop_reason == "guardrail_intervened"


def test_without_a_guardrail_no_config_is_sent(bedrock) -> None:
    BedrockGenerator(runtime_client(bedrock.url), model_id=MODEL).generate(
        "", [{"role": "user", "text": "hi"}], context=CONTEXT
    )
    assert "guardrailConfig" not in bedrock.calls("converse")[0]


def test_a_blocked_answer_is_a_polite_message_counted_in_metrics(bedrock, make_kotae, capsys, monkeypatch) -> None:
    from kotae.ops import metrics
    from tests.conftest import faq

    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "kotae")
    bedrock.guardrail_blocks = ("salary",)
    generator = BedrockGenerator(runtime_client(bedrock.url), model_id=MODEL, guardrail=GUARDRAIL)
    kotae = make_kotae(generator=generator, min_relevance=0.0)
    kotae.indexer.index(faq("pay", "When is salary paid?", "On the 25th."))
    answer = kotae.pipeline.ask("When is salary paid?")
    assert answer.blocked and not answer.found and answer.citations == []
    assert "content policy" in answer.text
    ja = kotae.pipeline.ask("給料 salary はいつ？")
    assert "コンテンツポリシー" in ja.text
    metrics.answered(answer)
    metrics.flush()
    assert '"GuardrailBlocked"' in capsys.readouterr().out


@pytest.mark.parametrize(
    ("env", "ok"),
    [({"KOTAE_GUARDRAIL_ID": "gr-1", "KOTAE_GUARDRAIL_VERSION": "2"}, True),
     ({"KOTAE_GUARDRAIL_ID": "gr-1", "KOTAE_GUARDRAIL_VERSION": "DRAFT"}, True),
     ({"KOTAE_GUARDRAIL_ID": "gr-1"}, False),
     ({"KOTAE_GUARDRAIL_VERSION": "2"}, False),
     ({"KOTAE_GUARDRAIL_ID": "gr-1", "KOTAE_GUARDRAIL_VERSION": "latest"}, False)],
)  # fmt: skip
def test_guardrail_settings_come_in_pairs(monkeypatch, env: dict, ok: bool) -> None:
    from kotae.settings import load_settings

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if ok:
        assert load_settings().guardrail == {
            "guardrailIdentifier": "gr-1", "guardrailVersion": env["KOTAE_GUARDRAIL_VERSION"]
        }  # fmt: skip
    else:
        with pytest.raises(ConfigError, match="GUARDRAIL"):
            load_settings()
