"""Follow-ups as standalone queries: what a thread's last message is searched for.

"What about part-timers?" finds nothing by itself. With a language model configured, the
follow-up and the thread are rendered with a versioned prompt (``prompts/condense/<version>.j2``)
and the model's one-line rewrite ("paid leave for part-time employees") is the retrieval
query. Offline, and whenever the rewrite cannot be used (empty, too long, the model failed), the
query is the heuristic one: the previous user turn, then the question
(:func:`kotae.answer.context.retrieval_query`). The question the prompt answers is never
rewritten: only what is searched for.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from kotae.answer.context import retrieval_query
from kotae.answer.prompts import PromptRegistry
from kotae.errors import ProviderError
from kotae.models import Turn
from kotae.providers.base import GenerationContext, Generator
from kotae.templates import escape_markup
from kotae.text import detect_language

CONDENSE_TASK = "condense"
CONDENSE_VERSION = "v1"
MAX_OUTPUT_TOKENS = 96  # a query of the prompt's 30 words, in Japanese too
MAX_QUERY_CHARS = 300  # a longer reply is an answer or a ramble, not a query
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Condensed:
    """The retrieval query and whether the model wrote it (False: the heuristic)."""

    query: str
    rewritten: bool


def usable_rewrite(text: str, question: str) -> str | None:
    """The model's reply as a query (first line, stripped of quotes and a label), or None when
    it is empty or too long to be one."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return None
    query = lines[0]
    for label in ("query:", "Query:", "クエリ:", "クエリ："):
        query = query.removeprefix(label).strip()
    query = query.strip("\"'「」“”` ")
    if not query or len(query) > max(MAX_QUERY_CHARS, 3 * len(question)):
        return None
    return query


def condense(
    question: str,
    turns: Sequence[Turn],
    generator: Generator,
    prompts: PromptRegistry,
    *,
    version: str = CONDENSE_VERSION,
    lap: Callable[[str], None] | None = None,
) -> Condensed:
    """The query to retrieve with for ``question`` after ``turns``.

    Without history, or with a generator that is no language model, this is the heuristic and no
    call is made. Otherwise the model is asked once (non-streaming, a small output budget); its
    reply is used when it looks like a query, and ``lap("condense")`` ends the stage. A provider
    error falls back to the heuristic with a warning: a follow-up is still answered.
    """
    heuristic = retrieval_query(question, turns)
    if not turns or not generator.uses_llm:
        return Condensed(heuristic, rewritten=False)
    lang = detect_language(question)
    prompt = prompts.render(
        CONDENSE_TASK,
        version,
        question=escape_markup(question),
        lang=lang,
        history=[{"role": t.role, "text": escape_markup(t.text)} for t in turns],
        today=date.today(),
    )
    try:
        generation = generator.generate(
            prompt.system,
            [{"role": "user", "text": prompt.user}],
            context=GenerationContext(question=question, lang=lang, max_tokens=MAX_OUTPUT_TOKENS),
        )
        rewrite = usable_rewrite(generation.text, question)
    except ProviderError as exc:
        log.warning("condensing the follow-up failed; using the thread heuristic", extra={"error": str(exc)})
        rewrite = None
    if lap is not None:
        lap("condense")
    return Condensed(rewrite, rewritten=True) if rewrite else Condensed(heuristic, rewritten=False)
