"""LLM-as-judge for answer evaluation: a versioned prompt (prompts/judge/<version>.j2) asks a
model to grade faithfulness and correctness from 1 to 5 and reply with one JSON object."""

from __future__ import annotations

from datetime import date

from kotae.answer.prompts import PromptRegistry
from kotae.evaluation.answers import EvalCase, Grade, parse_grade
from kotae.models import Answer
from kotae.providers.base import GenerationContext, Generator
from kotae.templates import escape_markup
from kotae.text import detect_language


class LLMJudge:
    def __init__(
        self, prompts: PromptRegistry, generator: Generator, *, task: str = "judge", version: str = "v1"
    ) -> None:
        self.prompts, self.generator, self.task, self.version = prompts, generator, task, version
        self.prompts.template(task, version)  # a missing judge version fails before the run starts

    @property
    def label(self) -> str:
        return f"{self.task}/{self.version} on {self.generator.model_id}"

    def __call__(self, case: EvalCase, answer: Answer) -> Grade:
        ids = {c.key: c.id for c in answer.citations}
        sources, seen = [], set()
        for rank, hit in enumerate(answer.hits, 1):
            if hit.document.chunk_id in seen:
                continue
            seen.add(hit.document.chunk_id)
            sources.append(
                {
                    "id": ids.get(hit.document.item_key, f"R{rank}"),
                    "key": escape_markup(hit.document.item_key),
                    "title": escape_markup(hit.document.title),
                    "text": escape_markup(hit.document.text),
                }
            )
        lang = case.lang or detect_language(case.question)
        prompt = self.prompts.render(
            self.task,
            self.version,
            question=escape_markup(case.question),
            lang=lang,
            answer=escape_markup(answer.text),
            sources=sources,
            reference=escape_markup(case.reference) if case.reference else case.reference,
            today=date.today(),
        )
        generation = self.generator.generate(
            prompt.system,
            [{"role": "user", "text": prompt.user}],
            context=GenerationContext(question=case.question, lang=lang),
        )
        return parse_grade(generation.text)
