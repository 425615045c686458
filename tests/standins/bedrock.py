"""An in-process HTTP stand-in for bedrock-runtime: Converse, ConverseStream and InvokeModel.

A real botocore client points at it with ``endpoint_url``, so request serialization, the
event-stream decoder and botocore's retry modes all run for real. Faults are queued per call.

Converse can be scripted with whole replies (``state.replies``, built with :func:`reply` and
:func:`tool_use`), toolUse blocks included, to drive a tool-use loop. Tool conversations are
checked as Bedrock checks them: a request whose messages hold toolUse or toolResult blocks
needs a toolConfig, and every toolUse of an assistant turn needs its toolResult in the next
user turn; anything else is a 400 ValidationException.
"""

from __future__ import annotations

import binascii
import json
import struct
import threading
import time
import urllib.parse
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.standins.server import serve


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return (
        struct.pack("B", len(raw_name)) + raw_name + b"\x07" + struct.pack(">H", len(raw_value)) + raw_value
    )


def event_message(event_type: str, payload: dict[str, Any]) -> bytes:
    """One message of the AWS event-stream encoding (prelude, headers, payload, CRCs)."""
    headers = (
        _header(":event-type", event_type)
        + _header(":content-type", "application/json")
        + _header(":message-type", "event")
    )
    body = json.dumps(payload).encode()
    total = 12 + len(headers) + len(body) + 4
    prelude = struct.pack(">II", total, len(headers))
    prelude += struct.pack(">I", binascii.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + headers + body
    return message + struct.pack(">I", binascii.crc32(message) & 0xFFFFFFFF)


@dataclass
class Fault:
    status: int
    code: str
    message: str = "injected"


DEFAULT_USAGE = {"inputTokens": 321, "outputTokens": 45, "totalTokens": 366}


def tool_use(tool_use_id: str, name: str, arguments: Any) -> dict[str, Any]:
    """A toolUse content block as Converse returns it."""
    return {"toolUse": {"toolUseId": tool_use_id, "name": name, "input": arguments}}


def reply(
    *blocks: dict[str, Any] | str, stop: str | None = None, usage: tuple[int, int] = (321, 45)
) -> dict[str, Any]:
    """A scripted Converse reply: text (a str) and toolUse blocks; the stop reason is tool_use
    when it holds a toolUse, else end_turn, unless ``stop`` says otherwise."""
    content = [{"text": b} if isinstance(b, str) else b for b in blocks]
    uses = any("toolUse" in b for b in content)
    tokens = {"inputTokens": usage[0], "outputTokens": usage[1], "totalTokens": sum(usage)}
    return {"content": content, "stopReason": stop or ("tool_use" if uses else "end_turn"), "usage": tokens}


def tool_problem(body: dict[str, Any]) -> str | None:
    """What Bedrock would refuse in a Converse body's tool use, or None."""
    messages = body.get("messages", [])
    kinds = {key for m in messages for block in m.get("content", []) for key in block}
    if kinds & {"toolUse", "toolResult"} and not body.get("toolConfig", {}).get("tools"):
        return "The toolConfig field must be defined when using toolUse and toolResult content blocks."
    for tool in body.get("toolConfig", {}).get("tools", []):
        spec = tool.get("toolSpec", {})
        if not spec.get("name") or spec.get("inputSchema", {}).get("json", {}).get("type") != "object":
            return "Each toolSpec needs a name and an inputSchema json of type object."
    for turn, following in zip(messages, [*messages[1:], None], strict=True):
        asked = {b["toolUse"]["toolUseId"] for b in turn.get("content", []) if "toolUse" in b}
        if not asked or turn.get("role") != "assistant":
            continue
        answered = [b["toolResult"] for b in (following or {}).get("content", []) if "toolResult" in b]
        if (
            following is None
            or following.get("role") != "user"
            or {r["toolUseId"] for r in answered} != asked
        ):
            return "Every toolUse block needs a toolResult block with its toolUseId in the next user message."
    return None


@dataclass
class BedrockStandIn:
    """State shared with the handler: scripted answers, faults, and every request received."""

    answers: list[str] = field(default_factory=list)
    # Whole Converse replies (see reply()); used before ``answers`` while there are any.
    replies: list[dict[str, Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    latency: float = 0.0
    # Called per invoke; returns a Fault to fail that call (e.g. throttle 30% at random).
    fault_rule: Callable[[str, dict[str, Any]], Fault | None] | None = None
    # A guardrail: when a request carries guardrailConfig and its messages contain one of these
    # words, the reply is the guardrail's blocked message with stopReason guardrail_intervened.
    guardrail_blocks: tuple[str, ...] = ()
    guardrail_message: str = "Sorry, the model cannot answer this question."
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def calls(self, operation: str) -> list[dict[str, Any]]:
        return [body for op, body in self.requests if op == operation]

    def _next_fault(self, operation: str, body: dict[str, Any]) -> Fault | None:
        with self.lock:
            if self.faults:
                return self.faults.pop(0)
        return self.fault_rule(operation, body) if self.fault_rule else None

    def _reply(self) -> dict[str, Any]:
        with self.lock:
            if self.replies:
                return self.replies.pop(0)
        return reply(self._answer())

    def _answer(self) -> str:
        with self.lock:
            return self.answers.pop(0) if self.answers else "From the knowledge [S1]."


def titan_vector(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector derived from the text."""
    seed = binascii.crc32(text.encode())
    raw = [((seed * (i + 7)) % 1000) / 1000.0 + 0.001 for i in range(dimensions)]
    norm = sum(v * v for v in raw) ** 0.5
    return [v / norm for v in raw]


class _Handler(BaseHTTPRequestHandler):
    state: BedrockStandIn

    def log_message(self, *args: Any) -> None:
        return

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        extra: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        """GET /_calls: how many calls each operation received (for out-of-process use)."""
        counts: dict[str, int] = {}
        for operation, _ in self.state.requests:
            counts[operation] = counts.get(operation, 0) + 1
        self._send(200, json.dumps(counts).encode())

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(length)
        parts = self.path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "model":
            self._send(
                404, b'{"message":"unknown path"}', extra={"x-amzn-ErrorType": "UnknownOperationException"}
            )
            return
        model_id, operation = urllib.parse.unquote(parts[1]), parts[2]
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._send(
                400, b'{"message":"body is not JSON"}', extra={"x-amzn-ErrorType": "ValidationException"}
            )
            return
        if not self.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256"):
            self._send(403, b'{"message":"unsigned"}', extra={"x-amzn-ErrorType": "AccessDeniedException"})
            return
        self.state.requests.append((operation, {"modelId": model_id, **body}))
        if self.state.latency:
            time.sleep(self.state.latency)
        fault = self.state._next_fault(operation, body)
        if fault is not None:
            payload = json.dumps({"message": fault.message}).encode()
            self._send(
                fault.status, payload, extra={"x-amzn-ErrorType": f"{fault.code}:http://internal.amazon.com/"}
            )
            return
        getattr(self, "_" + operation.replace("-", "_"), self._unknown)(model_id, body)

    def _unknown(self, model_id: str, body: dict[str, Any]) -> None:
        self._send(
            404, b'{"message":"unknown operation"}', extra={"x-amzn-ErrorType": "UnknownOperationException"}
        )

    def _invoke(self, model_id: str, body: dict[str, Any]) -> None:
        text, dims = body.get("inputText"), body.get("dimensions", 1024)
        if not isinstance(text, str) or dims not in (256, 512, 1024) or len(text) > 50_000:
            self._send(
                400,
                b'{"message":"Malformed input request"}',
                extra={"x-amzn-ErrorType": "ValidationException"},
            )
            return
        vector = titan_vector(text, dims)
        self._send(200, json.dumps({"embedding": vector, "inputTextTokenCount": len(text.split())}).encode())

    def _guarded(self, body: dict[str, Any], *, stream: bool) -> tuple[str, str] | None:
        """(text, stopReason) of a blocked call; None when no guardrail applies. A malformed
        guardrailConfig is a 400 ValidationException, as Bedrock answers."""
        config = body.get("guardrailConfig")
        if config is None:
            return None
        allowed = {"guardrailIdentifier", "guardrailVersion", "trace"} | (
            {"streamProcessingMode"} if stream else set()
        )
        if not {"guardrailIdentifier", "guardrailVersion"} <= set(config) or set(config) - allowed:
            raise ValueError("guardrailConfig")
        said = json.dumps(body.get("messages", []), ensure_ascii=False)
        if any(word in said for word in self.state.guardrail_blocks):
            return self.state.guardrail_message, "guardrail_intervened"
        return None

    def _validation_error(self, message: str = "Malformed guardrailConfig") -> None:
        payload = json.dumps({"message": message}).encode()
        self._send(400, payload, extra={"x-amzn-ErrorType": "ValidationException"})

    def _converse(self, model_id: str, body: dict[str, Any]) -> None:
        problem = tool_problem(body)
        if problem is not None:
            self._validation_error(problem)
            return
        try:
            blocked = self._guarded(body, stream=False)
        except ValueError:
            self._validation_error()
            return
        scripted = reply(blocked[0], stop=blocked[1]) if blocked else self.state._reply()
        response = {
            "output": {"message": {"role": "assistant", "content": scripted["content"]}},
            "stopReason": scripted["stopReason"],
            "usage": scripted.get("usage", DEFAULT_USAGE),
            "metrics": {"latencyMs": 12},
        }
        self._send(200, json.dumps(response).encode())

    def _converse_stream(self, model_id: str, body: dict[str, Any]) -> None:
        try:
            blocked = self._guarded(body, stream=True)
        except ValueError:
            self._validation_error()
            return
        text, stop = blocked or (self.state._answer(), "end_turn")
        events = [event_message("messageStart", {"role": "assistant"})]
        for start in range(0, len(text), 5):
            events.append(
                event_message(
                    "contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": text[start : start + 5]}}
                )
            )
        events.append(event_message("contentBlockStop", {"contentBlockIndex": 0}))
        events.append(event_message("messageStop", {"stopReason": stop}))
        events.append(
            event_message(
                "metadata",
                {"usage": DEFAULT_USAGE, "metrics": {"latencyMs": 12}},
            )
        )
        self._send(200, b"".join(events), content_type="application/vnd.amazon.eventstream")


def bedrock_standin() -> AbstractContextManager[BedrockStandIn]:
    """Serve on a free localhost port for the duration of the block."""
    return serve(BedrockStandIn(), _Handler)


def runtime_client(url: str, max_attempts: int = 4, pool: int = 16) -> Any:
    """A real bedrock-runtime client against the stand-in, with kotae's retry configuration."""
    import boto3

    from kotae.aws import retry_config

    return boto3.session.Session().client(
        "bedrock-runtime",
        region_name="ap-northeast-1",
        endpoint_url=url,
        config=retry_config(max_attempts, mode="standard", max_pool_connections=pool),
    )


def main() -> None:
    """Serve in a process of its own (benchmarks): prints the URL, runs until killed."""
    import argparse
    import sys

    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    with bedrock_standin() as state:
        state.latency = args.latency
        print(state.url, flush=True)
        sys.stdin.read()  # until the parent closes our stdin


if __name__ == "__main__":
    main()
