"""Converse tool use through a real botocore client against the Bedrock stand-in: the tool call,
the tool result sent back, the final answer with its citations, and the bad inputs."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from kotae.answer.tools import FINAL_ROUND_NOTE, Tool, ToolOutput
from kotae.errors import ConfigError, InputError, ProviderError, ProviderThrottled, ProviderUnavailable
from kotae.models import Document
from kotae.providers.base import ToolUsing
from kotae.providers.generators import BedrockGenerator, ExtractiveGenerator
from kotae.records.query import RecordQuery
from tests.standins.bedrock import Fault, bedrock_standin, reply, runtime_client, tool_use

MODEL = "apac.anthropic.claude-sonnet-4-20250514-v1:0"
QUESTION = [{"role": "user", "text": "How many records failed in ex-20261118-01?"}]
COUNT = {"operation": "count", "where": {"execution_id": ["ex-20261118-01"], "status": ["failed"]}}


def record(key: str) -> Document:
    return Document(
        chunk_id=f"{key}#0000",
        item_key=key,
        kind="record",
        title=f"Record {key}",
        text=f"{key}: status failed",
        facets={"execution_id": "ex-20261118-01", "status": "failed"},
    )


def faq_doc(key: str) -> Document:
    return Document(
        chunk_id=f"{key}#0000", item_key=key, kind="faq", title=f"FAQ {key}", text="Rerun the task."
    )


class Search(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1)


class Recorder:
    """Two fake tools that remember what they were called with."""

    def __init__(self) -> None:
        self.queries: list[BaseModel] = []
        self.searches: list[BaseModel] = []

    def query_records(self, query: BaseModel) -> ToolOutput:
        self.queries.append(query)
        content = {"total": 6, "keys": ["r-1", "r-2"], "unknown": {}, "unfiltered": False}
        return ToolOutput(content, [(record("r-1"), 1.0), (record("r-2"), 1.0)])

    def search_knowledge(self, search: BaseModel) -> ToolOutput:
        self.searches.append(search)
        return ToolOutput({"hits": 2}, [(faq_doc("faq-rerun"), 0.8), (record("r-2"), 0.6)])

    def tools(self) -> list[Tool]:
        return [
            Tool("query_records", "Exact counts and lists of records.", RecordQuery, self.query_records),
            Tool("search_knowledge", "Search the team's knowledge.", Search, self.search_knowledge),
        ]


@pytest.fixture
def bedrock():
    with bedrock_standin() as state:
        yield state


@pytest.fixture
def tools() -> Recorder:
    return Recorder()


def generator(bedrock, max_attempts: int = 4, **options) -> BedrockGenerator:
    return BedrockGenerator(runtime_client(bedrock.url, max_attempts=max_attempts), model_id=MODEL, **options)


def results_sent(body: dict) -> list[dict]:
    """The toolResult blocks of the last user message of a request."""
    return [b["toolResult"] for b in body["messages"][-1]["content"] if "toolResult" in b]


def test_the_tool_is_called_and_its_result_answers(bedrock, tools) -> None:
    # GIVEN a model that counts with query_records, then answers from the result
    asked = reply("Let me count.", tool_use("tu-1", "query_records", COUNT), usage=(100, 10))
    bedrock.replies.extend([asked, reply("Six records failed in ex-20261118-01 [S1][S2].", usage=(200, 20))])
    # WHEN the generator runs the tools
    run = generator(bedrock).run_tools("system rules", QUESTION, tools.tools(), max_rounds=3)
    # THEN the request declared both tools with the schemas of their input models
    first, second = bedrock.calls("converse")
    specs = [t["toolSpec"] for t in first["toolConfig"]["tools"]]
    assert [s["name"] for s in specs] == ["query_records", "search_knowledge"]
    assert specs[0]["inputSchema"]["json"] == RecordQuery.model_json_schema()
    assert first["system"] == [{"text": "system rules"}]
    assert first["messages"] == [{"role": "user", "content": [{"text": QUESTION[0]["text"]}]}]
    # AND the tool got the model's input, parsed
    assert tools.queries == [RecordQuery.model_validate(COUNT)] and tools.searches == []
    # AND the second call carries the assistant turn as returned and the tool's result
    assert second["toolConfig"] == first["toolConfig"]
    assert second["messages"][1] == {"role": "assistant", "content": asked["content"]}
    (result,) = results_sent(second)
    assert (result["toolUseId"], result["status"]) == ("tu-1", "success")
    sent = result["content"][0]["json"]
    assert sent["total"] == 6 and sent["keys"] == ["r-1", "r-2"]
    assert [(s["id"], s["key"]) for s in sent["sources"]] == [("S1", "r-1"), ("S2", "r-2")]
    # AND the answer, its citations, the trace and the usage summed over both calls
    assert run.text == "Six records failed in ex-20261118-01 [S1][S2]."
    assert [c.key for c in run.sources.citations(run.text)] == ["r-1", "r-2"]
    assert run.stop_reason == "end_turn" and run.model_id == MODEL
    assert [(c.name, c.ok, c.input) for c in run.calls] == [("query_records", True, COUNT)]
    assert (run.usage.input_tokens, run.usage.output_tokens) == (300, 30)


def test_several_calls_in_one_turn_get_one_user_message(bedrock, tools) -> None:
    # GIVEN a model that calls both tools in one turn, twice over two rounds
    bedrock.replies.extend(
        [
            reply(
                tool_use("a", "query_records", COUNT), tool_use("b", "search_knowledge", {"query": "rerun"})
            ),
            reply(tool_use("c", "search_knowledge", {"query": "why failed"})),
            reply("Six failed [S1]; rerun them [S3]."),
        ]
    )
    run = generator(bedrock).run_tools("", QUESTION, tools.tools(), max_rounds=3)
    calls = bedrock.calls("converse")
    assert len(calls) == 3 and "system" not in calls[0]
    # THEN both results go back in one user message, in the model's order
    first_results = results_sent(calls[1])
    assert [(r["toolUseId"], r["status"]) for r in first_results] == [("a", "success"), ("b", "success")]
    # AND sources are numbered across the run: r-2 found again keeps S2
    search_sources = first_results[1]["content"][0]["json"]["sources"]
    assert [(s["id"], s["key"]) for s in search_sources] == [("S3", "faq-rerun"), ("S2", "r-2")]
    again = results_sent(calls[2])[0]["content"][0]["json"]["sources"]
    assert [s["id"] for s in again] == ["S3", "S2"]
    assert [s.query for s in tools.searches] == ["rerun", "why failed"]
    assert [c.id for c in run.sources.citations(run.text)] == ["S1", "S3"]
    assert [(sid, d.item_key) for sid, d, _ in run.sources.evidence()] == [
        ("S1", "r-1"),
        ("S2", "r-2"),
        ("S3", "faq-rerun"),
    ]


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        pytest.param(
            {"operation": "sum"},
            "operation: Input should be 'count', 'list', 'latest' or 'group'",
            id="operation-sum",
        ),
        pytest.param(
            {"operation": "count", "group_by": ["status"]},
            "group_by is given exactly when operation is group",
            id="group-by-without-group",
        ),
        pytest.param({**COUNT, "sql": "DROP TABLE"}, "sql: Extra inputs are not permitted", id="extra-field"),
        pytest.param(
            {"operation": "count", "where": {"Status; --": ["x"]}}, "is not a facet name", id="bad-facet-name"
        ),
    ],
)
def test_invalid_arguments_are_answered_with_the_error_and_never_run(
    bedrock, tools, arguments, problem
) -> None:
    # GIVEN a model that calls query_records with bad arguments, then corrects itself
    bedrock.replies.extend(
        [
            reply(tool_use("bad", "query_records", arguments)),
            reply(tool_use("good", "query_records", COUNT)),
            reply("Six failed [S1]."),
        ]
    )
    run = generator(bedrock).run_tools("", QUESTION, tools.tools(), max_rounds=3)
    # THEN the error went back to the model, and only the valid call ran
    (result,) = results_sent(bedrock.calls("converse")[1])
    assert (result["toolUseId"], result["status"]) == ("bad", "error")
    told = result["content"][0]["json"]
    assert told["error"] == "invalid arguments for query_records; nothing was run"
    assert any(problem in p for p in told["problems"]), told
    assert tools.queries == [RecordQuery.model_validate(COUNT)]
    assert [(c.ok, c.output is None) for c in run.calls] == [(False, True), (True, False)]
    assert problem in run.calls[0].error and run.text == "Six failed [S1]."


def test_an_unknown_tool_is_answered_with_an_error(bedrock, tools) -> None:
    bedrock.replies.extend(
        [reply(tool_use("x", "delete_records", {"all": True})), reply("I cannot do that.")]
    )
    run = generator(bedrock).run_tools("", QUESTION, tools.tools(), max_rounds=2)
    (result,) = results_sent(bedrock.calls("converse")[1])
    assert result["status"] == "error"
    assert result["content"][0]["json"]["error"].startswith("there is no tool named 'delete_records'")
    assert tools.queries == tools.searches == [] and run.calls[0].name == "delete_records"
    assert run.text == "I cannot do that." and len(run.sources) == 0


def test_a_failing_tool_is_reported_to_the_model(bedrock) -> None:
    def run_query(query: BaseModel) -> ToolOutput:
        raise InputError("facet 'colour' is not a facet of record")

    tools = [Tool("query_records", "Records.", RecordQuery, run_query)]
    bedrock.replies.extend(
        [reply(tool_use("t", "query_records", COUNT)), reply("That facet does not exist.")]
    )
    run = generator(bedrock).run_tools("", QUESTION, tools, max_rounds=2)
    (result,) = results_sent(bedrock.calls("converse")[1])
    assert result["status"] == "error"
    assert result["content"][0]["json"] == {
        "error": "query_records failed: facet 'colour' is not a facet of record"
    }
    assert not run.calls[0].ok and run.text == "That facet does not exist."


@pytest.mark.parametrize(
    ("final", "text", "stop"),
    [
        pytest.param(
            reply("From what I have: six failed [S1]."),
            "From what I have: six failed [S1].",
            "end_turn",
            id="answers",
        ),
        pytest.param(
            reply("Still checking.", tool_use("again", "query_records", COUNT)),
            "Still checking.",
            "tool_use",
            id="still-asks",
        ),
    ],
)
def test_rounds_are_bounded(bedrock, tools, final, text, stop) -> None:
    # GIVEN a model that keeps calling tools
    bedrock.replies.extend(
        [reply(tool_use(f"t{i}", "query_records", COUNT), usage=(10, 1)) for i in range(2)]
    )
    bedrock.replies.append(final)
    # WHEN at most two rounds are allowed
    run = generator(bedrock).run_tools("", QUESTION, tools.tools(), max_rounds=2)
    # THEN three calls are made, the last one told to answer, with the tools still declared
    calls = bedrock.calls("converse")
    assert len(calls) == 3 and len(tools.queries) == 2 and len(run.calls) == 2
    last_turn = calls[2]["messages"][-1]["content"]
    assert [b for b in last_turn if "text" in b] == [{"text": FINAL_ROUND_NOTE}]
    assert "toolResult" in last_turn[0] and calls[2]["toolConfig"] == calls[0]["toolConfig"]
    assert all(
        b["text"] != FINAL_ROUND_NOTE
        for c in calls[:2]
        for m in c["messages"]
        for b in m["content"]
        if "text" in b
    )
    # AND the last reply is the answer; a tool call in it is not executed
    assert (run.text, run.stop_reason) == (text, stop)
    assert (run.usage.input_tokens, run.usage.output_tokens) == (20 + 321, 2 + 45)


def test_one_round_means_at_most_two_calls(bedrock, tools) -> None:
    bedrock.replies.extend([reply(tool_use(f"t{i}", "query_records", COUNT)) for i in range(5)])
    run = generator(bedrock).run_tools("", QUESTION, tools.tools(), max_rounds=1)
    assert len(bedrock.calls("converse")) == 2 and len(run.calls) == 1 and run.text == ""


def test_an_answer_without_tools_is_one_call(bedrock, tools) -> None:
    bedrock.replies.append(reply("The VPN FAQ has no record question in it."))
    run = generator(bedrock).run_tools("", QUESTION, tools.tools(), max_rounds=4)
    assert len(bedrock.calls("converse")) == 1 and run.calls == [] and run.stop_reason == "end_turn"
    assert run.text == "The VPN FAQ has no record question in it." and run.usage.total_tokens == 366


def failing_after_tools(fault: Fault):
    """A fault rule: every call that carries tool results (the rounds after the first) fails."""

    def rule(operation: str, body: dict) -> Fault | None:
        return fault if "toolResult" in str(body.get("messages")) else None

    return rule


@pytest.mark.parametrize(
    ("fault", "error", "calls"),
    [
        pytest.param(Fault(429, "ThrottlingException"), ProviderThrottled, 3, id="throttled-retried"),
        pytest.param(Fault(503, "ServiceUnavailableException"), ProviderUnavailable, 3, id="unavailable-retried"),
        pytest.param(Fault(400, "ValidationException", "bad schema"), ProviderError, 2, id="validation-not-retried"),
    ],
)
def test_errors_after_a_tool_round_are_translated(bedrock, tools, fault, error, calls) -> None:
    # GIVEN a first call that asks for a tool, and every later call failing
    bedrock.fault_rule = failing_after_tools(fault)
    bedrock.replies.append(reply(tool_use("t", "query_records", COUNT)))
    # WHEN the tool results are sent, THEN what is left after retries is kotae's error
    with pytest.raises(error) as caught:
        generator(bedrock, max_attempts=2).run_tools("", QUESTION, tools.tools(), max_rounds=2)
    assert MODEL in str(caught.value) and "with tools" in str(caught.value)
    assert len(tools.queries) == 1 and len(bedrock.calls("converse")) == calls


def test_throttling_is_retried_within_a_round(bedrock, tools) -> None:
    bedrock.faults.append(Fault(429, "ThrottlingException"))
    bedrock.replies.append(reply("Done."))
    assert (
        generator(bedrock, max_attempts=2).run_tools("", QUESTION, tools.tools(), max_rounds=1).text
        == "Done."
    )
    assert len(bedrock.calls("converse")) == 2


def test_guardrail_config_is_sent_and_a_block_ends_the_run(bedrock, tools) -> None:
    bedrock.guardrail_blocks = ("forbidden",)
    guarded = generator(bedrock, guardrail={"guardrailIdentifier": "gr-1", "guardrailVersion": "3"})
    run = guarded.run_tools(
        "", [{"role": "user", "text": "a forbidden question"}], tools.tools(), max_rounds=2
    )
    (sent,) = bedrock.calls("converse")
    assert sent["guardrailConfig"] == {
        "guardrailIdentifier": "gr-1",
        "guardrailVersion": "3",
        "trace": "disabled",
    }
    assert (run.text, run.stop_reason) == (bedrock.guardrail_message, "guardrail_intervened")
    assert run.calls == [] and tools.queries == []


def test_zero_rounds_is_a_configuration_error(bedrock, tools) -> None:
    with pytest.raises(ConfigError, match="KOTAE_MAX_TOOL_ROUNDS"):
        generator(bedrock).run_tools("", QUESTION, tools.tools(), max_rounds=0)
    assert bedrock.calls("converse") == []


def test_only_the_bedrock_generator_uses_tools(bedrock) -> None:
    assert isinstance(generator(bedrock), ToolUsing)
    assert not isinstance(ExtractiveGenerator(), ToolUsing)


@pytest.mark.parametrize(
    ("messages", "tool_config", "message"),
    [
        pytest.param(
            [
                {"role": "user", "content": [{"text": "q"}]},
                {"role": "assistant", "content": [tool_use("t", "query_records", {})]},
                {"role": "user", "content": [{"toolResult": {"toolUseId": "t", "content": [{"text": "1"}]}}]},
            ],
            None,
            "toolConfig field must be defined",
            id="no-tool-config",
        ),
        pytest.param(
            [
                {"role": "user", "content": [{"text": "q"}]},
                {"role": "assistant", "content": [tool_use("t", "query_records", {})]},
                {"role": "user", "content": [{"text": "never mind"}]},
            ],
            {"tools": [{"toolSpec": {"name": "query_records", "inputSchema": {"json": {"type": "object"}}}}]},
            "needs a toolResult",
            id="tool-use-unanswered",
        ),
    ],
)
def test_the_standin_refuses_what_bedrock_refuses(bedrock, messages, tool_config, message) -> None:
    # The loop's requests pass these checks in the tests above; here the checks themselves.
    client = runtime_client(bedrock.url, max_attempts=1)
    request = {"modelId": MODEL, "messages": messages, **({"toolConfig": tool_config} if tool_config else {})}
    with pytest.raises(ClientError, match=message) as caught:
        client.converse(**request)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
