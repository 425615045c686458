"""Record questions through the real pipeline on the sample knowledge: exact figures from the
store offline, Claude with the record and search tools through the Bedrock stand-in, and the
bad inputs (an execution that does not exist, no run named, invalid tool arguments)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from kotae.answer.pipeline import AskOptions
from kotae.app import Kotae
from kotae.indexing.loader import read_items
from kotae.models import Filters
from kotae.records.parser import parse_question
from kotae.settings import load_settings
from tests.conftest import PROMPTS, SAMPLES
from tests.standins.bedrock import bedrock_standin, reply, tool_use

RECORDS = [json.loads(line) for line in (SAMPLES / "knowledge.jsonl").read_text().splitlines() if '"record"' in line]
OPS = AskOptions(scopes=("ops",))
MODEL = "jp.anthropic.claude-haiku-4-5-20251001-v1:0"


def expected(**where: str) -> list[str]:
    """Keys of the sample records with these attribute values, newest first (as the store lists)."""
    rows = [r for r in RECORDS if all(r.get(k) == v for k, v in where.items())]
    return [r["item_key"] for r in sorted(rows, key=lambda r: (r["updated_at"], r["item_key"]), reverse=True)]


@pytest.fixture
def app(make_kotae) -> Kotae:
    kotae = make_kotae()
    kotae.indexer.index_many([(item, None) for _, item in read_items(SAMPLES / "knowledge.jsonl")])
    return kotae


def busiest_execution() -> str:
    return Counter(r["execution_id"] for r in RECORDS).most_common(1)[0][0]


@pytest.mark.parametrize(
    "template",
    [
        pytest.param("How many records failed in execution {ex}?", id="en"),
        pytest.param("{ex}で失敗したレコードは何件？", id="ja"),
    ],
)
def test_a_count_is_the_stores_exact_figure_with_the_records_cited(app: Kotae, template: str) -> None:
    ex = busiest_execution()
    answer = app.pipeline.ask(template.format(ex=ex), options=OPS)
    keys = expected(execution_id=ex, status="failed")
    assert answer.records is not None and answer.found
    assert answer.records.total == len(keys) and answer.records.keys == keys
    assert [c.key for c in answer.citations] == keys
    assert str(len(keys)) in answer.text.splitlines()[0]
    assert answer.hits == []  # answered by the record query, not by retrieval


def test_a_group_question_gets_counts_per_status_as_a_table(app: Kotae) -> None:
    ex = busiest_execution()
    answer = app.pipeline.ask(f"{ex}のステータス別の件数は？", options=OPS)
    assert answer.records is not None
    counts = Counter(r["status"] for r in RECORDS if r["execution_id"] == ex)
    assert answer.records.groups == dict(counts)
    assert "```" in answer.text and f"failed{' ' * 12}{counts['failed']}" in answer.text


def test_an_execution_that_does_not_exist_is_named_never_counted_as_zero(app: Kotae) -> None:
    answer = app.pipeline.ask("How many records failed in ex-20261199-01?", options=OPS)
    assert not answer.found and answer.records is not None
    assert set(answer.records.unknown) == {"execution_id"}
    closest = answer.records.unknown["execution_id"]
    assert closest and set(closest) <= {r["execution_id"] for r in RECORDS}
    assert "ex-20261199-01" in answer.text and closest[0] in answer.text
    assert "0 records" not in answer.text


def test_no_run_named_answers_over_everything_visible_and_says_so(app: Kotae) -> None:
    answer = app.pipeline.ask("how many records failed?", options=OPS)
    assert answer.records is not None and answer.records.unfiltered
    assert answer.records.total == len(expected(status="failed"))
    assert "every record you can see here" in answer.text


def test_records_the_asker_may_not_see_are_neither_counted_nor_suggested(app: Kotae) -> None:
    ex = busiest_execution()
    answer = app.pipeline.ask(f"How many records failed in execution {ex}?", options=AskOptions(scopes=("public",)))
    # Nothing of the ops-only records shows: no figure, no source, no suggested id.
    assert not answer.found and not answer.citations
    assert answer.records is None or (answer.records.total == 0 and not any(answer.records.unknown.values()))
    others = {r["execution_id"] for r in RECORDS} - {ex}
    assert not [other for other in others if other in answer.text]


def test_a_faq_question_is_answered_by_retrieval_as_before(app: Kotae) -> None:
    answer = app.pipeline.ask("How do I connect to the VPN from home?", options=OPS)
    assert answer.records is None and answer.hits and answer.found


@pytest.fixture
def bedrock(monkeypatch):
    import kotae.aws

    with bedrock_standin() as state:
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", state.url)
        kotae.aws.client.cache_clear()  # clients are cached per process; each stand-in has its own port
        yield state
    kotae.aws.client.cache_clear()


@pytest.fixture
def claude(bedrock, store, tmp_path) -> Kotae:
    settings = load_settings(
        data_dir=tmp_path / "data", prompts_dir=PROMPTS, generator="bedrock", aws_region="ap-northeast-1",
        generation_model_id=MODEL,
    )  # fmt: skip
    kotae = Kotae(settings, store=store)
    kotae.indexer.index_many([(item, None) for _, item in read_items(SAMPLES / "knowledge.jsonl")])
    return kotae


# Mentions records, so Claude gets the tools, but the parser cannot tell which query it asks.
UNPARSED = "What do the records say about why 星空物流 rows went wrong?"


def test_the_unparsed_question_is_one_for_the_tools(claude: Kotae) -> None:
    service, filters = claude.records, Filters(scopes=OPS.scopes)
    spec = claude.schema.spec("record")
    assert parse_question(UNPARSED, service.lookup("record", filters), kind="record", spec=spec) is None
    assert service.signal(UNPARSED, filters)


def test_claude_calls_the_record_query_and_the_answer_carries_the_stores_figures(bedrock, claude: Kotae) -> None:
    ex = busiest_execution()
    keys = expected(execution_id=ex, status="failed")
    arguments = {"operation": "list", "where": {"execution_id": [ex], "status": ["failed"]}}
    bedrock.replies.extend([reply(tool_use("t1", "query_records", arguments)), reply(f"{len(keys)} failed [S1].")])
    answer = claude.pipeline.ask(UNPARSED, options=OPS)
    first, second = bedrock.calls("converse")
    assert [t["toolSpec"]["name"] for t in first["toolConfig"]["tools"]] == ["query_records", "search_knowledge"]
    result = second["messages"][-1]["content"][0]["toolResult"]
    assert result["toolUseId"] == "t1" and result["status"] == "success"
    assert result["content"][0]["json"]["total"] == len(keys)
    assert answer.records is not None and answer.records.total == len(keys) and answer.records.keys == keys
    assert [c.key for c in answer.citations] == keys[:1] and answer.found
    assert answer.prompt_task == "records" and answer.usage.input_tokens == 2 * 321


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        pytest.param({"operation": "sum"}, "operation", id="bad-operation"),
        pytest.param({"operation": "count", "where": {"colour": ["red"]}}, "colour is not a facet", id="unknown-facet"),
        pytest.param({"operation": "count", "drop": "table"}, "drop", id="extra-field"),
    ],
)
def test_invalid_tool_arguments_go_back_to_the_model_as_an_error(bedrock, claude: Kotae, arguments, problem) -> None:
    bedrock.replies.extend([reply(tool_use("t1", "query_records", arguments)), reply("<no_answer/>")])
    answer = claude.pipeline.ask(UNPARSED, options=OPS)
    result = bedrock.calls("converse")[1]["messages"][-1]["content"][0]["toolResult"]
    assert result["status"] == "error" and problem in json.dumps(result["content"], ensure_ascii=False)
    assert answer.records is None and not answer.found


def test_claude_is_not_given_tools_for_a_faq_question(bedrock, claude: Kotae) -> None:
    bedrock.answers.append("Use GlobalProtect [S1].")
    answer = claude.pipeline.ask("How do I connect to the VPN from home?", options=OPS)
    assert not bedrock.calls("converse") and bedrock.calls("converse-stream")
    assert answer.records is None and answer.found
