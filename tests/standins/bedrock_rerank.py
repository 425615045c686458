"""An in-process HTTP stand-in for bedrock-agent-runtime ``Rerank`` (POST /rerank).

A real botocore client reaches it through ``AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME`` (or
``endpoint_url``), so serialization, signing and the retry modes run for real. The body is
checked as the API reference describes it, and a body it would refuse is a 400
ValidationException. Scores are scripted per text (``state.scores``: a substring of the text ->
score) and otherwise the share of the query's character bigrams the text contains, so a test
can make the reranker disagree with the fused order. Faults are queued per call.
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_agent-runtime_Rerank.html
"""

from __future__ import annotations

import json
import re
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.standins.bedrock import Fault
from tests.standins.server import serve

RERANK_MODELS = ("amazon.rerank-v1:0", "cohere.rerank-v3-5:0")
_MODEL_ARN = re.compile(r"^arn:aws:bedrock:[a-z0-9-]+::foundation-model/(?P<model>[a-z0-9.:-]+)$")


@dataclass
class RerankStandIn:
    scores: dict[str, float] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_fault(self) -> Fault | None:
        with self.lock:
            return self.faults.pop(0) if self.faults else None

    def score(self, query: str, text: str) -> float:
        for marker, scripted in self.scores.items():
            if marker in text:
                return scripted
        wanted = _bigrams(query)
        return round(len(wanted & _bigrams(text)) / len(wanted), 6) if wanted else 0.0


def _bigrams(text: str) -> set[str]:
    folded = re.sub(r"\s+", " ", text.lower())
    return {folded[i : i + 2] for i in range(len(folded) - 1)}


def body_problem(body: dict[str, Any]) -> str | None:
    """What Rerank would refuse in a request body, or None."""
    queries = body.get("queries")
    if not isinstance(queries, list) or len(queries) != 1:
        return "queries must hold exactly one query"
    query = queries[0]
    if query.get("type") != "TEXT" or not 1 <= len(query.get("textQuery", {}).get("text", "")) <= 32000:
        return "a query is of type TEXT with a textQuery.text of 1 to 32000 characters"
    sources = body.get("sources")
    if not isinstance(sources, list) or not 1 <= len(sources) <= 1000:
        return "sources must hold 1 to 1000 sources"
    for source in sources:
        inline = source.get("inlineDocumentSource", {})
        if source.get("type") != "INLINE" or inline.get("type") not in ("TEXT", "JSON"):
            return "a source is INLINE with an inlineDocumentSource of type TEXT or JSON"
        if inline["type"] == "TEXT" and not 1 <= len(inline.get("textDocument", {}).get("text", "")) <= 32000:
            return "a TEXT document has a textDocument.text of 1 to 32000 characters"
    config = body.get("rerankingConfiguration", {})
    bedrock = config.get("bedrockRerankingConfiguration", {})
    if config.get("type") != "BEDROCK_RERANKING_MODEL":
        return "rerankingConfiguration.type must be BEDROCK_RERANKING_MODEL"
    arn = _MODEL_ARN.match(bedrock.get("modelConfiguration", {}).get("modelArn", ""))
    if arn is None or arn["model"] not in RERANK_MODELS:
        return "modelArn must be the foundation-model ARN of a reranker model"
    wanted = bedrock.get("numberOfResults", len(sources))
    if not isinstance(wanted, int) or not 1 <= wanted <= 1000:
        return "numberOfResults must be 1 to 1000"
    return None


def rerank_response(state: RerankStandIn, body: dict[str, Any]) -> dict[str, Any]:
    """The results, best first: the top numberOfResults sources by score, with their index."""
    query = body["queries"][0]["textQuery"]["text"]
    texts = [s["inlineDocumentSource"].get("textDocument", {}).get("text", "") for s in body["sources"]]
    scored = sorted(
        ((i, state.score(query, text)) for i, text in enumerate(texts)), key=lambda pair: (-pair[1], pair[0])
    )
    wanted = body["rerankingConfiguration"]["bedrockRerankingConfiguration"].get(
        "numberOfResults", len(texts)
    )
    return {"results": [{"index": i, "relevanceScore": score} for i, score in scored[:wanted]]}


class _Handler(BaseHTTPRequestHandler):
    state: RerankStandIn

    def log_message(self, *args: Any) -> None:
        return

    def _send(self, status: int, payload: dict[str, Any], error: str | None = None) -> None:
        raw = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        if error:
            self.send_header("x-amzn-ErrorType", f"{error}:http://internal.amazon.com/")
        self.end_headers()
        self.wfile.write(raw)

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path != "/rerank":
            self._send(404, {"message": "unknown path"}, "UnknownOperationException")
            return
        if not self.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256"):
            self._send(403, {"message": "unsigned"}, "AccessDeniedException")
            return
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._send(400, {"message": "body is not JSON"}, "ValidationException")
            return
        self.state.requests.append(body)
        fault = self.state.next_fault()
        if fault is not None:
            self._send(fault.status, {"message": fault.message}, fault.code)
            return
        problem = body_problem(body)
        if problem is not None:
            self._send(400, {"message": problem}, "ValidationException")
            return
        self._send(200, rerank_response(self.state, body))


def rerank_standin() -> AbstractContextManager[RerankStandIn]:
    """Serve on a free localhost port for the duration of the block."""
    return serve(RerankStandIn(), _Handler)


def agent_runtime_client(url: str, max_attempts: int = 3) -> Any:
    """A real bedrock-agent-runtime client against the stand-in, with kotae's retry configuration."""
    import boto3

    from kotae.aws import retry_config

    return boto3.session.Session().client(
        "bedrock-agent-runtime",
        region_name="ap-northeast-1",
        endpoint_url=url,
        config=retry_config(max_attempts, mode="standard"),
    )
