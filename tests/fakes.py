"""In-memory fakes of the provider interfaces (prefer fakes over mocks)."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer

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
        self.meanwhile: list[Callable[[], object]] = []

    def enqueue(self, *responses: str | Exception) -> FakeGenerator:
        self.queue.extend(responses)
        return self

    def during_next(self, *callbacks: Callable[[], object]) -> FakeGenerator:
        """Run these, one per generate call, inside the call before it answers: a test can make
        something happen while an answer is in progress (Slack delivering the event again)."""
        self.meanwhile.extend(callbacks)
        return self

    def generate(
        self, system: str, messages: Sequence[dict[str, str]], *, context: GenerationContext
    ) -> Generation:
        self.history.append((system, list(messages)))
        if self.meanwhile:
            self.meanwhile.pop(0)()
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


class CountingStore:
    """A real store behind a wrapper that counts the item-state reads made through it, per key."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.state_reads: dict[str, int] = {}

    def state(self, item_key: str) -> object:
        self.state_reads[item_key] = self.state_reads.get(item_key, 0) + 1
        return self.inner.state(item_key)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


class UnavailablePersistence(BasePersistenceLayer):
    """An idempotency store that cannot be reached (DynamoDB down): every operation raises."""

    def __init__(self, error: Exception | None = None) -> None:
        super().__init__()
        self.error = error or ConnectionError("dynamodb unreachable")

    def _get_record(self, idempotency_key: str) -> Any:
        raise self.error

    def _put_record(self, data_record: Any) -> None:
        raise self.error

    def _update_record(self, data_record: Any) -> None:
        raise self.error

    def _delete_record(self, data_record: Any) -> None:
        raise self.error


class FailingSink:
    """An answer log that cannot be written (S3 down); keeps what it was asked to write."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.attempts: list[tuple[str, dict[str, Any]]] = []

    def write(self, kind: str, record: dict[str, Any]) -> None:
        self.attempts.append((kind, record))
        raise self.error


class FakeSlackClient:
    """A slack_sdk WebClient in memory: records calls as (method, arguments), e.g.
    ("chat_postMessage", {...}); the methods in ``refuse`` raise SlackApiError not_allowed."""

    def __init__(self, *refuse: str) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.refuse = set(refuse)
        self.messages: list[dict[str, Any]] = []  # what conversations_replies returns

    def __getattr__(self, method: str) -> Callable[..., dict[str, Any]]:
        if method.startswith("_"):
            raise AttributeError(method)

        def call(**arguments: Any) -> dict[str, Any]:
            self.calls.append((method, arguments))
            if method in self.refuse:
                from slack_sdk.errors import SlackApiError
                from slack_sdk.web import SlackResponse

                response = SlackResponse(
                    client=self,
                    http_verb="POST",
                    api_url=method,
                    req_args={},
                    data={"ok": False, "error": "not_allowed"},
                    headers={},
                    status_code=200,
                )
                raise SlackApiError("refused", response)
            return {"ok": True, "ts": f"ts-{len(self.calls)}", "messages": self.messages}

        return call

    def methods(self) -> list[str]:
        return [method for method, _ in self.calls]
