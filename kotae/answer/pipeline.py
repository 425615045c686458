"""The answer path: question -> retrieve -> render prompt -> generate -> Answer (with its trace)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date

from kotae import messages
from kotae.answer.prompts import PromptParameters, PromptRegistry
from kotae.answer.retrieval import Retriever
from kotae.errors import InvalidQuestion
from kotae.models import Answer, Citation, Filters, Generation, SearchHit, Turn
from kotae.providers.base import GenerationContext, Generator
from kotae.text import detect_language

NO_ANSWER = "<no_answer/>"
_CITATION = re.compile(r"\[(S\d+)\]")
# Tags the prompt uses as delimiters; neutralized inside data so content cannot close a block.
_DELIMITERS = re.compile(r"<(/?)(sources?|question|conversation|user|assistant)\b", re.IGNORECASE)
MAX_HISTORY_TURNS = 10
MAX_HISTORY_CHARS = 4000
MAX_TURN_CHARS = 1000
RELATIVE_FLOOR = 0.5


@dataclass(frozen=True)
class AskOptions:
    """Per-request choices (a channel profile supplies these in Slack)."""

    scopes: tuple[str, ...] | None = None
    prompt_task: str | None = None
    prompt_version: str | None = None
    kinds: tuple[str, ...] | None = None
    model_id: str | None = None  # another model of the same provider, e.g. per channel


def _defang(text: str) -> str:
    return _DELIMITERS.sub(lambda m: f"‹{m.group(1)}{m.group(2)}", text)


def _bounded_history(history: Sequence[Turn]) -> list[Turn]:
    kept: list[Turn] = []
    budget = MAX_HISTORY_CHARS
    for turn in reversed(list(history)[-MAX_HISTORY_TURNS:]):
        if budget <= 0:
            break
        text = turn.text[: min(budget, MAX_TURN_CHARS)]
        kept.append(Turn(role=turn.role, text=_defang(text)))
        budget -= len(text)
    return list(reversed(kept))


class _Clock:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._start = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = (now - self._start) * 1000
        self._start = now


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
    ) -> None:
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
        options = options or AskOptions()
        question = self.validate(question)
        task = options.prompt_task or self.prompt_task
        version = options.prompt_version or self.prompt_version
        clock = _Clock()
        turns = _bounded_history(history)
        lang = detect_language(question)
        query = question
        if turns:
            previous = next((t.text for t in reversed(turns) if t.role == "user"), "")
            query = f"{previous[:500]}\n{question}"
        # Resolving the version and model first makes a wrong one fail loudly, not only on lucky questions.
        parameters = self.prompts.parameters(task, version)
        generator = self.generator_for(options.model_id)
        hits = self.retriever.search(query, self.top_k, Filters(scopes=options.scopes, kinds=options.kinds))
        clock.lap("retrieve")
        evidence = self._evidence(hits, parameters)
        base = {"question": question, "hits": hits, "prompt_task": task, "prompt_version": version}
        if not evidence:
            # Nothing relevant: say so rather than let a model guess.
            clock.lap("render")
            text = messages.text("not_found", lang)
            yield text
            yield Answer(
                text=text, found=False, model_id=generator.model_id, timings_ms=clock.timings, **base
            )
            return
        sources = [
            {
                "id": source_id,
                "key": hit.document.item_key,
                "title": _defang(hit.document.title),
                "url": hit.document.url,
                "updated_at": hit.document.updated_at,
                "text": _defang(hit.document.text),
            }
            for source_id, hit in evidence
        ]
        prompt = self.prompts.render(
            task,
            version,
            question=_defang(question),
            lang=lang,
            history=[t.model_dump() for t in turns],
            sources=sources,
            today=date.today(),
        )
        clock.lap("render")
        context = GenerationContext(
            question=question,
            lang=lang,
            evidence=[(sid, hit.document, hit.relevance) for sid, hit in evidence],
        )
        generation: Generation | None = None
        # Hold text back until it cannot be the start of the no-answer marker.
        pending, released = "", False
        for event in generator.stream(
            prompt.system, [{"role": "user", "text": prompt.user}], context=context
        ):
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
        assert generation is not None
        clock.lap("generate")
        yield self._answer(generation, evidence, lang, clock, base)

    def _evidence(
        self, hits: list[SearchHit], parameters: PromptParameters | None = None
    ) -> list[tuple[str, SearchHit]]:
        """Relevant hits within the context budget, numbered S1, S2, ...

        A hit must reach the absolute threshold and half the best hit's relevance, so one
        strong match is not diluted by stray ones that share a single word with the question.
        The prompt version may set its own threshold and number of sources.
        """
        parameters = parameters or PromptParameters()
        threshold = self.min_relevance if parameters.min_relevance is None else parameters.min_relevance
        best = max((h.relevance for h in hits), default=0.0)
        floor = max(threshold, best * RELATIVE_FLOOR)
        chosen, used = [], 0
        for hit in hits:
            if parameters.max_sources is not None and len(chosen) >= parameters.max_sources:
                break
            if hit.relevance < floor:
                continue
            size = len(hit.document.text) + len(hit.document.title)
            if chosen and used + size > self.max_context_chars:
                break
            used += size
            chosen.append((f"S{len(chosen) + 1}", hit))
        return chosen

    def _answer(
        self,
        generation: Generation,
        evidence: list[tuple[str, SearchHit]],
        lang: str,
        clock: _Clock,
        base: dict[str, object],
    ) -> Answer:
        text = generation.text.strip()
        by_id = dict(evidence)
        if not text or text.startswith(NO_ANSWER):
            return Answer(
                text=messages.text("not_found", lang),
                found=False,
                model_id=generation.model_id,
                usage=generation.usage,
                timings_ms=clock.timings,
                **base,  # type: ignore[arg-type]
            )
        cited = [sid for sid in dict.fromkeys(_CITATION.findall(text)) if sid in by_id]
        citations = [
            Citation(
                id=sid,
                key=by_id[sid].document.item_key,
                title=by_id[sid].document.title,
                url=by_id[sid].document.url,
                score=round(by_id[sid].relevance, 4),
            )
            for sid in cited
        ]
        return Answer(
            text=text,
            citations=citations,
            found=True,
            model_id=generation.model_id,
            usage=generation.usage,
            timings_ms=clock.timings,
            **base,  # type: ignore[arg-type]
        )
