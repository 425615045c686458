"""In-memory fakes of the provider interfaces (prefer fakes over mocks)."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Sequence
from typing import ClassVar

from kotae.models import Document, Generation, Usage
from kotae.providers.base import GenerationContext, Vector
from kotae.text import tokenize


class FakeEmbedder:
    """Deterministic bag-of-tokens vectors: texts sharing tokens are close. Records every call."""

    name = "fake"

    def __init__(self, dimensions: int = 64, languages: frozenset[str] | None = None) -> None:
        self.dimensions = dimensions
        self.languages = languages
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str], *, purpose: str = "document") -> list[Vector]:
        self.calls.append(list(texts))
        out = []
        for text in texts:
            vec = [0.0] * self.dimensions
            for token in tokenize(text):
                slot = int(hashlib.md5(token.encode()).hexdigest(), 16) % self.dimensions
                vec[slot] += 1.0
            norm = math.sqrt(sum(v * v for v in vec)) or 1.0
            out.append([v / norm for v in vec])
        return out

    @property
    def texts_embedded(self) -> int:
        return sum(len(c) for c in self.calls)


class FakeGenerator:
    """Answers with queued texts (or cites S1 by default); keeps the prompts it was given."""

    uses_llm: ClassVar[bool] = True

    def __init__(self, model_id: str = "fake-model") -> None:
        self.model_id = model_id
        self.queue: list[str | Exception] = []
        self.history: list[tuple[str, list[dict[str, str]]]] = []

    def enqueue(self, *responses: str | Exception) -> FakeGenerator:
        self.queue.extend(responses)
        return self

    def generate(
        self, system: str, messages: Sequence[dict[str, str]], *, context: GenerationContext
    ) -> Generation:
        self.history.append((system, list(messages)))
        response = self.queue.pop(0) if self.queue else "The answer is in the knowledge. [S1]"
        if isinstance(response, Exception):
            raise response
        return Generation(
            text=response, model_id=self.model_id, usage=Usage(input_tokens=100, output_tokens=20)
        )

    def stream(
        self, system: str, messages: Sequence[dict[str, str]], *, context: GenerationContext
    ) -> Iterator[str | Generation]:
        generation = self.generate(system, messages, context=context)
        for start in range(0, len(generation.text), 4):
            yield generation.text[start : start + 4]
        yield generation


def make_doc(
    key: str, index: int = 0, text: str = "hello world", scopes=("public",), kind: str = "faq"
) -> Document:
    """A chunk document for store tests."""
    return Document(
        chunk_id=f"{key}#{index:04d}",
        item_key=key,
        kind=kind,
        title=key,
        text=text,
        chunk_index=index,
        scopes=list(scopes),
        content_hash=f"h-{text}",
    )
