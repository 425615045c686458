"""The answer path in two steps: ``prepare_context`` then ``generate``.

question -> :meth:`AnswerPipeline.prepare_context` (validate, bound the history, retrieve, keep
the relevant hits as numbered sources: a :class:`~kotae.answer.context.Context`) ->
:meth:`AnswerPipeline.generate` (render the prompt, stream from the model, build the Answer with
its citations and trace). ``ask`` and ``ask_stream`` run both.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Generator as PyGenerator
from dataclasses import dataclass
from datetime import date

from kotae import messages
from kotae.answer.condense import condense
from kotae.answer.context import (
    GUARDRAIL_INTERVENED,
    NO_ANSWER,
    Clock,
    Context,
    Evidence,
    bounded_history,
    prompt_sources,
    record_evidence,
    retrieval_query,
    select_evidence,
)
from kotae.answer.prompts import PromptRegistry
from kotae.answer.records import answer_records
from kotae.answer.retrieval import Retriever
from kotae.answer.routing import ProfileRoute, Route, RouteSignals, RoutingPolicy, choose_route
from kotae.answer.tool_answer import answer_with_tools
from kotae.errors import InvalidQuestion
from kotae.models import Answer, Filters, Generation, Turn
from kotae.ops.costs import PriceBook
from kotae.providers.base import Generator, ToolUsing
from kotae.records.query import RecordResult
from kotae.records.service import RecordService
from kotae.templates import escape_markup
from kotae.text import detect_language

_CITATION = re.compile(r"\[(S\d+)\]")


@dataclass(frozen=True)
class AskOptions:
    """Per-request choices (a channel profile supplies these in Slack)."""

    scopes: tuple[str, ...] | None = None
    prompt_task: str | None = None
    prompt_version: str | None = None
    kinds: tuple[str, ...] | None = None
    model_id: str | None = None  # another model of the same provider, e.g. per channel
    route: ProfileRoute | None = None  # the light or strong model whatever the rule says


class AnswerPipeline:
    def __init__(
        self,
        retriever: Retriever,
        prompts: PromptRegistry,
        generator: Generator,
        *,
        prompt_task: str = "answer",
        prompt_version: str = "v1",
        top_k: int = 5,
        min_relevance: float = 0.25,
        max_question_chars: int = 4000,
        max_context_chars: int = 12_000,
        generator_for: Callable[[str], Generator] | None = None,
        records: RecordService | None = None,
        answer_gate: str = "model",
        record_tools: bool = True,
        max_tool_rounds: int = 4,
        record_prompt_version: str = "v1",
        routing: RoutingPolicy | None = None,
        prices: PriceBook | None = None,
    ) -> None:
        self.routing = routing or RoutingPolicy.off(generator.model_id)
        self.prices = prices
        self.records = records
        self.answer_gate = answer_gate
        self.record_tools = record_tools
        self.max_tool_rounds = max_tool_rounds
        self.record_prompt_version = record_prompt_version
        self.retriever = retriever
        self.prompts = prompts
        self.generator = generator
        self._generator_for = generator_for
        self.prompt_task = prompt_task
        self.prompt_version = prompt_version
        self.top_k = top_k
        self.min_relevance = min_relevance
        self.max_question_chars = max_question_chars
        self.max_context_chars = max_context_chars

    def generator_for(self, model_id: str | None) -> Generator:
        """The configured generator, or the same provider with another model when asked."""
        if not model_id or model_id == self.generator.model_id or self._generator_for is None:
            return self.generator
        return self._generator_for(model_id)

    def validate(self, question: str) -> str:
        cleaned = question.strip()
        if not cleaned:
            raise InvalidQuestion(
                'The question is empty: ask something, e.g. `kotae ask "How do I reset my password?"`'
            )
        if len(cleaned) > self.max_question_chars:
            raise InvalidQuestion(
                f"The question is {len(cleaned):,} characters long; the limit is {self.max_question_chars:,}. "
                "Please shorten it to the part you want answered."
            )
        return cleaned

    def ask(
        self, question: str, *, history: Sequence[Turn] = (), options: AskOptions | None = None
    ) -> Answer:
        """Answer in one go."""
        final: Answer | None = None
        for event in self.ask_stream(question, history=history, options=options):
            if isinstance(event, Answer):
                final = event
        assert final is not None
        return final

    def ask_stream(
        self, question: str, *, history: Sequence[Turn] = (), options: AskOptions | None = None
    ) -> Iterator[str | Answer]:
        """Yield text deltas as the generator produces them, then the final Answer."""
        context = self.prepare_context(question, history, options)
        for event in self.generate(context):
            yield self._costed(event, context.route) if isinstance(event, Answer) else event

    def _costed(self, answer: Answer, route: Route | None) -> Answer:
        """The final Answer with its route and estimated cost (kotae.answer.routing, kotae.ops.costs)."""
        cost = self.prices.cost(answer.model_id, answer.usage) if self.prices is not None else None
        return answer.model_copy(
            update={"route": route and route.name, "route_reason": route and route.reason, "cost_usd": cost}
        )

    def prepare_context(
        self, question: str, history: Sequence[Turn] = (), options: AskOptions | None = None
    ) -> Context:
        """Everything before generation: the question checked, the evidence chosen, the trace begun.

        Raises InvalidQuestion for an unusable question, and PromptNotFound or a provider error for
        a wrong prompt version or model, before retrieval, so they fail on every question alike.
        The model is routed (kotae.answer.routing) once the evidence is known; building its
        generator calls nothing, so a wrong light or strong id fails at its first Converse call.
        """
        options = options or AskOptions()
        question = self.validate(question)
        task = options.prompt_task or self.prompt_task
        version = options.prompt_version or self.prompt_version
        clock = Clock()
        turns = bounded_history(history)
        query = retrieval_query(question, turns)
        parameters = self.prompts.parameters(task, version)
        generator = self.generator_for(options.model_id)
        filters = Filters(scopes=options.scopes, kinds=options.kinds)
        records = self._records(question, filters)
        tools = records is None and self._tools(generator, question, filters)
        if records is not None or tools:
            clock.lap("records")
            hits, evidence = [], record_evidence(records) if records is not None else []
        else:
            query = condense(question, turns, generator, self.prompts, lap=clock.lap).query
            hits = self.retriever.search(query, self.top_k, filters, lap=clock.lap)
            evidence = select_evidence(
                hits,
                parameters,
                min_relevance=self.min_relevance,
                max_context_chars=self.max_context_chars,
                query=query if self.answer_gate == "model" else None,
                statistics=self.retriever.store,
                filters=filters,
            )
        signals = _signals(question, turns, evidence, records is not None, tools, generator, options)
        route, generator = self._route(signals, generator)
        return Context(
            question=question,
            lang=detect_language(question),
            turns=turns,
            query=query,
            prompt_task=task,
            prompt_version=version,
            parameters=parameters,
            generator=generator,
            hits=hits,
            evidence=evidence,
            sources=prompt_sources(evidence),
            clock=clock,
            records=records,
            tools=tools,
            filters=filters,
            route=route,
        )

    def _route(self, signals: RouteSignals, chosen: Generator) -> tuple[Route, Generator]:
        """The route of a prepared question and the generator that answers it: the one already
        chosen (configured or pinned) unless the route names another model."""
        route = choose_route(signals, self.routing)
        if route.name == "none" or route.model_id == chosen.model_id:
            return route, chosen
        return route, self.generator_for(route.model_id)

    def _tools(self, generator: Generator, question: str, filters: Filters) -> bool:
        """Whether Claude answers with the record and search tools: when it can, they are on, and
        the question could be about records although the parser did not understand it."""
        return (
            self.records is not None
            and self.record_tools
            and isinstance(generator, ToolUsing)
            and self.records.signal(question, filters)
        )

    def _records(self, question: str, filters: Filters) -> RecordResult | None:
        """The executed record query a question asks, or None for any other question."""
        return self.records.understand(question, filters) if self.records is not None else None

    def generate(self, context: Context) -> Iterator[str | Answer]:
        """Render the prompt, stream the model's text (never the no-answer marker), then the Answer.

        Without relevant evidence the model is not asked: a plain not-found statement is the answer.
        A record question is answered with the store's figures (kotae.answer.records).
        """
        if context.records is not None:
            yield from answer_records(context)
            return
        if context.tools:
            yield from answer_with_tools(self, context)
            return
        if not context.relevant:
            context.clock.lap("render")
            text = messages.text("not_found", context.lang)
            yield text
            yield context.answer(text, found=False, model_id=context.generator.model_id)
            return
        prompt = self.prompts.render(
            context.prompt_task,
            context.prompt_version,
            question=escape_markup(context.question),
            lang=context.lang,
            history=[{"role": t.role, "text": escape_markup(t.text)} for t in context.turns],
            sources=context.sources,
            today=date.today(),
        )
        context.clock.lap("render")
        stream = context.generator.stream(
            prompt.system, [{"role": "user", "text": prompt.user}], context=context.generation_context()
        )
        generation = yield from _without_marker(stream)
        context.clock.lap("generate")
        yield _final_answer(generation, context)


def _signals(
    question: str,
    turns: Sequence[Turn],
    evidence: Evidence,
    store_records: bool,
    tools: bool,
    generator: Generator,
    options: AskOptions,
) -> RouteSignals:
    """What the routing rule looks at, measured on the prepared question."""
    return RouteSignals(
        question_chars=len(question),
        history_turns=len(turns),
        history_chars=sum(len(t.text) for t in turns),
        sources=len(evidence),
        source_chars=sum(len(hit.document.title) + len(hit.document.text) for _, hit in evidence),
        tools=tools,
        store_records=store_records,
        uses_llm=getattr(generator, "uses_llm", False),
        pinned_model_id=options.model_id,
        profile_route=options.route,
    )


def _without_marker(stream: Iterable[str | Generation]) -> PyGenerator[str, None, Generation]:
    """Pass text deltas on, holding them back while they could still be the no-answer marker;
    return the final Generation."""
    generation: Generation | None = None
    pending, released = "", False
    for event in stream:
        if isinstance(event, Generation):
            generation = event
            continue
        if released:
            yield event
            continue
        pending += event
        stripped = pending.lstrip()
        decided = len(stripped) >= len(NO_ANSWER) or not NO_ANSWER.startswith(stripped)
        if decided and not stripped.startswith(NO_ANSWER):
            released = True
            yield pending
    assert generation is not None, "a generator's stream ends with its Generation"
    return generation


def _final_answer(generation: Generation, context: Context) -> Answer:
    """The model's text with the sources it cites, or not-found when it refused or said nothing."""
    text = generation.text.strip()
    if generation.stop_reason == GUARDRAIL_INTERVENED:
        return context.answer(
            messages.text("guardrail_blocked", context.lang),
            found=False,
            blocked=True,
            model_id=generation.model_id,
            usage=generation.usage,
        )
    if not text or text.startswith(NO_ANSWER):
        text, found, citations = messages.text("not_found", context.lang), False, []
    else:
        found, citations = True, context.citations(_CITATION.findall(text))
    return context.answer(
        text, found=found, model_id=generation.model_id, citations=citations, usage=generation.usage
    )
