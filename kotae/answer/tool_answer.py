"""The tool-using branch of the answer path: Claude gets the knowledge search and the record
query as Converse tools, and answers from their results.

The figures of the answer's ``records`` are the store's (the last query_records call that ran);
the model only words them. Tool arguments are validated against the typed models before a tool
runs (kotae.answer.tools.execute), and the record query is checked against the schema by
RecordService, so neither the model's nor the asker's text reaches a query unchecked.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from kotae import messages
from kotae.answer.context import GUARDRAIL_INTERVENED, NO_ANSWER, Context
from kotae.answer.tools import Tool, ToolOutput
from kotae.models import Answer
from kotae.providers.base import ToolUsing
from kotae.records.query import RecordQuery, RecordResult
from kotae.templates import escape_markup

if TYPE_CHECKING:
    from kotae.answer.pipeline import AnswerPipeline

RECORDS_TASK = "records"


class KnowledgeSearch(BaseModel):
    """search_knowledge's arguments."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(
        min_length=1, max_length=500, description="What to look for, in the question's language."
    )


@dataclass
class ToolSession:
    """The two tools for one question, bound to the asker's filters, and what they returned."""

    pipeline: AnswerPipeline
    context: Context

    def __post_init__(self) -> None:
        self.results: list[RecordResult] = []

    def query_records(self, query: BaseModel) -> ToolOutput:
        assert isinstance(query, RecordQuery) and self.pipeline.records is not None
        result = self.pipeline.records.execute(query, self.context.filters)
        self.results.append(result)
        return ToolOutput(result.public(), [(doc, 1.0) for doc in result.documents])

    def search_knowledge(self, search: BaseModel) -> ToolOutput:
        assert isinstance(search, KnowledgeSearch)
        pipeline = self.pipeline
        hits = pipeline.retriever.search(search.query, pipeline.top_k, self.context.filters)
        kept = [h for h in hits if h.relevance >= pipeline.min_relevance]
        return ToolOutput({"results": len(kept)}, [(h.document, h.relevance) for h in kept])

    def tools(self) -> list[Tool]:
        return [
            Tool(
                "query_records",
                "Exact counts, lists, the latest records, or counts grouped by one or two facets, "
                "over the records of one kind. Use it for every figure about records.",
                RecordQuery,
                self.query_records,
            ),
            Tool(
                "search_knowledge",
                "Search the team's knowledge (FAQ entries and records) for explanations and procedures.",
                KnowledgeSearch,
                self.search_knowledge,
            ),
        ]


def answer_with_tools(pipeline: AnswerPipeline, context: Context) -> Iterator[str | Answer]:
    """Run the tool conversation and yield its text, then the Answer with its trace."""
    generator = context.generator
    assert isinstance(generator, ToolUsing) and pipeline.records is not None
    session = ToolSession(pipeline, context)
    kinds = {
        escape_markup(kind): [escape_markup(f) for f in spec.facets]
        for kind, spec in pipeline.records.schema.facet_kinds().items()
        if kind in pipeline.records.kinds(context.filters)
    }
    prompt = pipeline.prompts.render(
        RECORDS_TASK,
        pipeline.record_prompt_version,
        question=escape_markup(context.question),
        lang=context.lang,
        history=[{"role": t.role, "text": escape_markup(t.text)} for t in context.turns],
        record_kinds=kinds,
        today=date.today(),
    )
    context.clock.lap("render")
    run = generator.run_tools(
        prompt.system,
        [{"role": "user", "text": prompt.user}],
        session.tools(),
        max_rounds=pipeline.max_tool_rounds,
    )
    context.clock.lap("generate")
    records = session.results[-1] if session.results else None
    text = run.text.strip()
    found, blocked, citations = True, False, run.sources.citations(text)
    if run.stop_reason == GUARDRAIL_INTERVENED:
        text, found, blocked, citations = messages.text("guardrail_blocked", context.lang), False, True, []
    elif not text or text.startswith(NO_ANSWER):
        text, found, citations = messages.text("not_found", context.lang), False, []
    elif records is not None and records.unknown:
        found = False
    yield text
    answer = context.answer(
        text,
        found=found,
        blocked=blocked,
        model_id=run.model_id,
        citations=citations,
        usage=run.usage,
        records=records,
    )
    yield answer.model_copy(
        update={"prompt_task": RECORDS_TASK, "prompt_version": pipeline.record_prompt_version}
    )
