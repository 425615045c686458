"""Step one of the answer path: what a question becomes before anything is generated.

A :class:`Context` holds everything the generate step needs and everything the answer's trace
reports: the validated question, its language, the bounded history, the retrieval query, the
prompt task, version and parameters, the model, the hits, the relevant hits numbered as
sources, and the timings so far. ``AnswerPipeline.prepare_context`` builds it; the helpers
here are the pure parts of that (history bounding, the relevance gate, escaping for markup).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kotae.answer.gate import GateModel, QueryTerms, gate_features, packaged_model
from kotae.answer.prompts import PromptParameters
from kotae.answer.relevance import TermStatistics
from kotae.answer.routing import Route
from kotae.models import Answer, Citation, Filters, SearchHit, Turn, Usage
from kotae.providers.base import GenerationContext, Generator
from kotae.records.query import RecordResult
from kotae.templates import escape_markup

# Tags the prompt uses as delimiters; neutralized inside data so content cannot close a block.
MAX_HISTORY_TURNS = 10
MAX_HISTORY_CHARS = 4000
MAX_TURN_CHARS = 1000
MAX_QUERY_CONTEXT_CHARS = 500  # of the previous user turn, prepended to a follow-up's query
RELATIVE_FLOOR = 0.5
NO_ANSWER = "<no_answer/>"  # what a model replies when the sources are silent
GUARDRAIL_INTERVENED = "guardrail_intervened"  # Converse stopReason when a guardrail blocked

Evidence = list[tuple[str, SearchHit]]  # (source id S1, S2, ..., hit)


def bounded_history(history: Sequence[Turn]) -> list[Turn]:
    """The last turns, newest first within a character budget, each cut (escaped when rendered)."""
    kept: list[Turn] = []
    budget = MAX_HISTORY_CHARS
    for turn in reversed(list(history)[-MAX_HISTORY_TURNS:]):
        if budget <= 0:
            break
        text = turn.text[: min(budget, MAX_TURN_CHARS)]
        kept.append(Turn(role=turn.role, text=text))
        budget -= len(text)
    return list(reversed(kept))


def retrieval_query(question: str, turns: Sequence[Turn]) -> str:
    """The question, preceded by the previous user turn so a follow-up finds the same topic."""
    previous = next((t.text for t in reversed(turns) if t.role == "user"), "")
    return f"{previous[:MAX_QUERY_CONTEXT_CHARS]}\n{question}" if turns else question


def select_evidence(
    hits: Sequence[SearchHit],
    parameters: PromptParameters,
    *,
    min_relevance: float,
    max_context_chars: int,
    query: str | None = None,
    statistics: TermStatistics | None = None,
    filters: Filters | None = None,
    gate: GateModel | None = None,
) -> Evidence:
    """Relevant hits within the context budget, numbered S1, S2, ...

    Given the query and the store's term statistics, the answer gate (kotae.answer.gate) decides
    whether anything is shown: below its operating point (or the prompt version's
    ``gate_threshold``) there is no evidence. Without them, as before, the best hit must reach
    ``min_relevance``. Either way a hit must reach half the best hit's relevance, so one strong
    match is not diluted by stray ones that share a single word with the question, and a prompt
    version's own ``min_relevance`` and ``max_sources`` apply.
    """
    if query is not None and statistics is not None:
        model = gate or packaged_model()
        if not model.passes(
            gate_features(QueryTerms.of(statistics, query, filters), hits), parameters.gate_threshold
        ):
            return []
        threshold = parameters.min_relevance or 0.0
    else:
        threshold = min_relevance if parameters.min_relevance is None else parameters.min_relevance
    best = max((h.relevance for h in hits), default=0.0)
    return _within_budget(hits, max(threshold, best * RELATIVE_FLOOR), parameters, max_context_chars)


def _within_budget(
    hits: Sequence[SearchHit], floor: float, parameters: PromptParameters, max_context_chars: int
) -> Evidence:
    """The hits at or above ``floor``, in order, as many as the sources and characters allow."""
    chosen: Evidence = []
    used = 0
    for hit in hits:
        if parameters.max_sources is not None and len(chosen) >= parameters.max_sources:
            break
        if hit.relevance < floor:
            continue
        size = len(hit.document.text) + len(hit.document.title)
        if chosen and used + size > max_context_chars:
            break
        used += size
        chosen.append((f"S{len(chosen) + 1}", hit))
    return chosen


def record_evidence(result: RecordResult) -> Evidence:
    """The listed records of a result as numbered sources, in the store's order."""
    return [
        (f"S{i}", SearchHit(document=doc, score=1.0, relevance=1.0))
        for i, doc in enumerate(result.documents, 1)
    ]


def prompt_sources(evidence: Evidence) -> list[dict[str, Any]]:
    """The numbered sources as the prompt template receives them, every field escaped for markup."""
    return [
        {
            "id": source_id,
            "key": escape_markup(hit.document.item_key),
            "title": escape_markup(hit.document.title),
            "url": escape_markup(hit.document.url) if hit.document.url else None,
            "updated_at": escape_markup(hit.document.updated_at) if hit.document.updated_at else None,
            "text": escape_markup(hit.document.text),
        }
        for source_id, hit in evidence
    ]


class Clock:
    """Milliseconds per stage, each measured from the end of the previous one."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._start = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = (now - self._start) * 1000
        self._start = now


@dataclass(frozen=True)
class Context:
    """A prepared question: what the generate step renders and the trace its Answer carries."""

    question: str
    lang: str
    turns: list[Turn]
    query: str
    prompt_task: str
    prompt_version: str
    parameters: PromptParameters
    generator: Generator
    hits: list[SearchHit]
    evidence: Evidence
    sources: list[dict[str, Any]]
    clock: Clock  # started when the question was accepted
    # A record question the parser understood, executed: its listed records are the evidence.
    records: RecordResult | None = None
    # Claude answers with the knowledge search and the record query as tools.
    tools: bool = False
    filters: Filters = field(default_factory=Filters)  # what the asker may see, for the tools
    route: Route | None = None  # the model chosen for this question and why (kotae.answer.routing)

    @property
    def relevant(self) -> bool:
        """Whether anything passed the relevance gate; without it the model is not asked."""
        return bool(self.evidence)

    def generation_context(self) -> GenerationContext:
        return GenerationContext(
            question=self.question,
            lang=self.lang,
            evidence=[(sid, hit.document, hit.relevance) for sid, hit in self.evidence],
        )

    def citations(self, cited_ids: Sequence[str]) -> list[Citation]:
        """Citations for the source ids a text cites, in order, each once; unknown ids dropped."""
        by_id = dict(self.evidence)
        return [
            Citation(
                id=sid,
                key=by_id[sid].document.item_key,
                title=by_id[sid].document.title,
                url=by_id[sid].document.url,
                score=round(by_id[sid].relevance, 4),
            )
            for sid in dict.fromkeys(cited_ids)
            if sid in by_id
        ]

    def answer(
        self,
        text: str,
        *,
        found: bool,
        model_id: str,
        blocked: bool = False,
        citations: Sequence[Citation] = (),
        usage: Usage | None = None,
        records: RecordResult | None = None,
    ) -> Answer:
        """The final Answer with this context's trace: hits, prompt task/version, timings."""
        return Answer(
            question=self.question,
            text=text,
            citations=list(citations),
            hits=self.hits,
            found=found,
            blocked=blocked,
            prompt_task=self.prompt_task,
            prompt_version=self.prompt_version,
            model_id=model_id,
            usage=usage or Usage(),
            timings_ms=self.clock.timings,
            records=records if records is not None else self.records,
            retrieval_query=self.query if self.query != self.question else None,
        )
