"""Rerankers: the Amazon Bedrock Rerank API (bedrock-agent-runtime ``Rerank``).

A reranker reads the query and each candidate together, so it can tell a passage that answers
the question from one that only shares its words. kotae runs it after fusion on the top N hits
(kotae.answer.retrieval) and keeps its score on each hit for the answer gate.
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_agent-runtime_Rerank.html
https://docs.aws.amazon.com/bedrock/latest/userguide/rerank-supported.html (models, Regions)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from kotae.errors import ProviderError

MAX_SOURCES = 1000  # sources per Rerank request (API limit)
MAX_TEXT_CHARS = 32_000  # characters of the query and of each text document (API limit)


def model_arn(region: str, model_id: str, partition: str = "aws") -> str:
    """The foundation-model ARN Rerank names its model by (``modelArn``)."""
    return f"arn:{partition}:bedrock:{region}::foundation-model/{model_id}"


def rerank_request(query: str, texts: Sequence[str], arn: str) -> dict[str, Any]:
    """The Rerank body: one text query, the texts as inline text documents, every result back."""
    return {
        "queries": [{"type": "TEXT", "textQuery": {"text": query[:MAX_TEXT_CHARS]}}],
        "sources": [
            {
                "type": "INLINE",
                "inlineDocumentSource": {"type": "TEXT", "textDocument": {"text": t[:MAX_TEXT_CHARS] or " "}},
            }
            for t in texts
        ],
        "rerankingConfiguration": {
            "type": "BEDROCK_RERANKING_MODEL",
            "bedrockRerankingConfiguration": {
                "modelConfiguration": {"modelArn": arn},
                "numberOfResults": len(texts),
            },
        },
    }


def parse_results(response: dict[str, Any], count: int) -> list[tuple[int, float]]:
    """``(index, relevanceScore)`` pairs, best first, each index once and within ``count``.

    A result naming an index that was not sent is a broken response, not something to rank by."""
    ranked: dict[int, float] = {}
    for result in response.get("results", []):
        index, score = result.get("index"), result.get("relevanceScore")
        if not isinstance(index, int) or not 0 <= index < count or not isinstance(score, int | float):
            raise ProviderError(f"Rerank returned an unusable result {result!r}")
        ranked.setdefault(index, float(score))
    return sorted(ranked.items(), key=lambda pair: (-pair[1], pair[0]))


class BedrockReranker:
    """Amazon Rerank 1.0 or Cohere Rerank 3.5 through bedrock-agent-runtime ``Rerank``.

    The client carries botocore's retry configuration (kotae.aws); what is left after retries is
    translated into kotae's errors here. ``numberOfResults`` asks for every text, so one call
    scores the whole top N (the response then needs no ``nextToken`` paging).
    """

    def __init__(self, client: Any, *, model_id: str, region: str) -> None:
        self._client = client
        self.model_id = model_id
        self.arn = model_arn(region, model_id)

    def rerank(self, query: str, texts: Sequence[str]) -> list[tuple[int, float]]:
        from kotae.aws import translate

        if not texts:
            return []
        texts = list(texts)[:MAX_SOURCES]
        try:
            response = self._client.rerank(**rerank_request(query, texts, self.arn))
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"reranking with {self.model_id}") from exc
        return parse_results(response, len(texts))
