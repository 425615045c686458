"""Generators: Claude through the Bedrock Converse API, and an extractive answerer without an LLM."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from botocore.exceptions import BotoCoreError, ClientError

from kotae import messages
from kotae.answer.tools import FINAL_ROUND_NOTE, SourceBook, Tool, ToolRun, execute, tool_config
from kotae.errors import ConfigError
from kotae.models import Generation, Usage
from kotae.providers.base import GenerationContext

EXTRACTIVE_MODEL_ID = "extractive"
_SPACES = re.compile(r"[ \t]+")


def _excerpt(title: str, text: str, limit: int) -> str:
    """The document text without its repeated title, cut at a sentence end near ``limit``."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines and lines[0] == title.strip():
        lines = lines[1:]
    body = _SPACES.sub(" ", " ".join(lines)) or title
    if len(body) <= limit:
        return body
    cut = max(body.rfind(mark, 0, limit) for mark in ("。", ". ", "！", "？", "! ", "? "))
    return body[: cut + 1] if cut > limit // 2 else body[:limit].rstrip() + "…"


class ExtractiveGenerator:
    """Quotes the best entries with their source ids and says that no LLM is configured."""

    model_id = EXTRACTIVE_MODEL_ID
    uses_llm: ClassVar[bool] = False

    def __init__(self, max_quotes: int = 3, excerpt_chars: int = 400) -> None:
        self.max_quotes = max_quotes
        self.excerpt_chars = excerpt_chars

    def generate(
        self, system: str, messages_: Sequence[dict[str, str]], *, context: GenerationContext
    ) -> Generation:
        quotes = [
            f"[{source_id}] {doc.title}\n> {_excerpt(doc.title, doc.text, self.excerpt_chars)}"
            for source_id, doc, _ in list(context.evidence)[: self.max_quotes]
        ]
        text = messages.text("extractive_intro", context.lang) + "\n\n" + "\n\n".join(quotes)
        return Generation(text=text, model_id=self.model_id, stop_reason="end_turn")

    def stream(
        self, system: str, messages_: Sequence[dict[str, str]], *, context: GenerationContext
    ) -> Iterator[str | Generation]:
        generation = self.generate(system, messages_, context=context)
        yield generation.text
        yield generation


def _converse_messages(messages_: Sequence[dict[str, str]]) -> list[dict[str, Any]]:
    return [{"role": m["role"], "content": [{"text": m["text"]}]} for m in messages_]


class BedrockGenerator:
    """Claude (or any Converse-capable model) on Amazon Bedrock.

    https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html
    The client carries botocore's retry configuration; what is left after retries is translated
    into kotae's errors here.
    """

    uses_llm: ClassVar[bool] = True

    def __init__(
        self,
        client: Any,
        *,
        model_id: str,
        max_tokens: int = 1024,
        temperature: float = 0.0,
        guardrail: dict[str, str] | None = None,
    ) -> None:
        self._client = client
        self.model_id = model_id
        self._inference = {"maxTokens": max_tokens, "temperature": temperature}
        self._guardrail = guardrail

    def _request(
        self, system: str, messages_: Sequence[dict[str, str]], *, stream: bool = False
    ) -> dict[str, Any]:
        return self._converse_request(system, _converse_messages(messages_), stream=stream)

    def _converse_request(
        self, system: str, conversation: list[dict[str, Any]], *, stream: bool = False
    ) -> dict[str, Any]:
        request: dict[str, Any] = {
            "modelId": self.model_id,
            "messages": conversation,
            "inferenceConfig": self._inference,
        }
        if system:
            request["system"] = [{"text": system}]
        if self._guardrail:
            # Streaming in sync mode: every chunk is checked before it is sent, so nothing the
            # guardrail would block reaches Slack first. A block ends with stopReason
            # "guardrail_intervened", which the pipeline turns into a polite message.
            config = {**self._guardrail, "trace": "disabled"}
            request["guardrailConfig"] = {**config, "streamProcessingMode": "sync"} if stream else config
        return request

    def generate(
        self, system: str, messages_: Sequence[dict[str, str]], *, context: GenerationContext
    ) -> Generation:
        from kotae.aws import translate

        request = self._request(system, messages_)
        if context.max_tokens is not None:
            request["inferenceConfig"] = {
                **self._inference,
                "maxTokens": min(context.max_tokens, self._inference["maxTokens"]),
            }
        try:
            response = self._client.converse(**request)
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"generating with {self.model_id}") from exc
        content = response.get("output", {}).get("message", {}).get("content", [])
        text = "".join(block.get("text", "") for block in content)
        usage = response.get("usage", {})
        return Generation(
            text=text,
            model_id=self.model_id,
            usage=Usage(input_tokens=usage.get("inputTokens", 0), output_tokens=usage.get("outputTokens", 0)),
            stop_reason=response.get("stopReason"),
        )

    def stream(
        self, system: str, messages_: Sequence[dict[str, str]], *, context: GenerationContext
    ) -> Iterator[str | Generation]:
        from kotae.aws import translate

        parts: list[str] = []
        usage = Usage()
        stop_reason = None
        try:
            response = self._client.converse_stream(**self._request(system, messages_, stream=True))
            for event in response["stream"]:
                if "contentBlockDelta" in event:
                    delta = event["contentBlockDelta"].get("delta", {}).get("text", "")
                    if delta:
                        parts.append(delta)
                        yield delta
                elif "messageStop" in event:
                    stop_reason = event["messageStop"].get("stopReason")
                elif "metadata" in event:
                    raw = event["metadata"].get("usage", {})
                    usage = Usage(
                        input_tokens=raw.get("inputTokens", 0), output_tokens=raw.get("outputTokens", 0)
                    )
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"streaming from {self.model_id}") from exc
        yield Generation(text="".join(parts), model_id=self.model_id, usage=usage, stop_reason=stop_reason)

    def run_tools(
        self,
        system: str,
        messages_: Sequence[dict[str, str]],
        tools: Sequence[Tool],
        *,
        max_rounds: int,
        final_note: str = FINAL_ROUND_NOTE,
    ) -> ToolRun:
        """Converse with tools: while the model stops for ``tool_use`` and rounds are left,
        execute every call of its turn and send all results back in one user message.

        The results of the last round go back with ``final_note`` and that reply is the answer,
        whatever it asks for: Converse has no tool choice "none", and a conversation holding
        toolUse/toolResult blocks must still carry its toolConfig, so the tools stay declared
        and the note tells the model to answer. At most ``max_rounds + 1`` model calls.
        https://docs.aws.amazon.com/bedrock/latest/userguide/tool-use-inference-call.html
        """
        if max_rounds < 1:
            raise ConfigError("KOTAE_MAX_TOOL_ROUNDS must be at least 1")
        config = tool_config(tools)
        conversation = _converse_messages(messages_)
        run = ToolRun(text="", model_id=self.model_id, usage=Usage(), stop_reason=None, sources=SourceBook())
        for round_ in range(1, max_rounds + 1):
            message = self._converse_tools(system, conversation, config, run)
            uses = [block["toolUse"] for block in message["content"] if "toolUse" in block]
            if run.stop_reason != "tool_use" or not uses:
                return _finished(run, message)
            conversation.append(message)
            results = self._tool_results(tools, uses, run)
            if round_ == max_rounds:
                results.append({"text": final_note})
            conversation.append({"role": "user", "content": results})
        return _finished(run, self._converse_tools(system, conversation, config, run))

    def _converse_tools(
        self, system: str, conversation: list[dict[str, Any]], config: dict[str, Any], run: ToolRun
    ) -> dict[str, Any]:
        """One Converse call with the tools declared; adds its usage and stop reason to ``run``
        and returns the assistant message as Bedrock sent it."""
        from kotae.aws import translate

        request = {**self._converse_request(system, conversation), "toolConfig": config}
        try:
            response = self._client.converse(**request)
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"generating with tools with {self.model_id}") from exc
        raw = response.get("usage", {})
        run.usage = Usage(
            input_tokens=run.usage.input_tokens + raw.get("inputTokens", 0),
            output_tokens=run.usage.output_tokens + raw.get("outputTokens", 0),
        )
        run.stop_reason = response.get("stopReason")
        message = response.get("output", {}).get("message", {})
        return {"role": message.get("role", "assistant"), "content": message.get("content", [])}

    @staticmethod
    def _tool_results(
        tools: Sequence[Tool], uses: list[dict[str, Any]], run: ToolRun
    ) -> list[dict[str, Any]]:
        """One toolResult block per toolUse of the turn, in the model's order."""
        results = []
        for use in uses:
            content, status, call = execute(tools, use.get("name", ""), use.get("input"), sources=run.sources)
            run.calls.append(call)
            results.append(
                {
                    "toolResult": {
                        "toolUseId": use["toolUseId"],
                        "content": [{"json": content}],
                        "status": status,
                    }
                }
            )
        return results


def _finished(run: ToolRun, message: dict[str, Any]) -> ToolRun:
    """The run with the text of its last message as the answer (tool calls in it are ignored)."""
    run.text = "".join(block.get("text", "") for block in message["content"])
    return run
