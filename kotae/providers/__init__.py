"""Provider registries. Built-ins register here; their modules are imported only when chosen,
so a Lambda that never embeds locally never imports torch."""

from __future__ import annotations

from typing import Any

from kotae.providers.base import Embedder, Generator, Reranker, Store
from kotae.providers.registry import Registry
from kotae.settings import Settings

EMBEDDERS: Registry[Embedder | None] = Registry("embedder", "embedder")
STORES: Registry[Store] = Registry("store", "store")
GENERATORS: Registry[Generator] = Registry("generator", "generator")
RERANKERS: Registry[Reranker | None] = Registry("reranker", "reranker")


def _bedrock_runtime(settings: Settings, pool: int) -> Any:
    from kotae.aws import client

    return client("bedrock-runtime", settings.aws_region, max_pool=pool)


@EMBEDDERS.register("none")
def _no_embedder(settings: Settings) -> None:
    return None


@EMBEDDERS.register("local")
def _local_embedder(settings: Settings) -> Embedder:
    from kotae.providers.embedders import LocalEmbedder

    return LocalEmbedder(settings.local_model)


@EMBEDDERS.register("titan")
def _titan_embedder(settings: Settings) -> Embedder:
    from kotae.providers.embedders import TitanEmbedder

    return TitanEmbedder(
        _bedrock_runtime(settings, settings.embedding_concurrency),
        model_id=settings.titan_model_id,
        dimensions=settings.embedding_dimensions,
        normalize=settings.embedding_normalize,
        concurrency=settings.embedding_concurrency,
    )


@STORES.register("sqlite")
def _sqlite_store(settings: Settings) -> Store:
    from kotae.providers.sqlite_store import SQLiteStore

    return SQLiteStore(settings.store_path)


@STORES.register("opensearch")
def _opensearch_store(settings: Settings) -> Store:
    from kotae.providers.opensearch_store import OpenSearchStore

    return OpenSearchStore.from_settings(settings)


@GENERATORS.register("extractive")
def _extractive(settings: Settings) -> Generator:
    from kotae.providers.generators import ExtractiveGenerator

    return ExtractiveGenerator()


@GENERATORS.register("bedrock")
def _bedrock(settings: Settings) -> Generator:
    from kotae.providers.generators import BedrockGenerator

    return BedrockGenerator(
        _bedrock_runtime(settings, 4),
        model_id=settings.generation_model_id,
        max_tokens=settings.max_output_tokens,
        temperature=settings.temperature,
        guardrail=settings.guardrail,
    )


@RERANKERS.register("none")
def _no_reranker(settings: Settings) -> None:
    return None


@RERANKERS.register("bedrock")
def _bedrock_reranker(settings: Settings) -> Reranker:
    from kotae.aws import client
    from kotae.providers.rerankers import BedrockReranker

    # AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME redirects this client (tests, VPC endpoints).
    agent_runtime = client("bedrock-agent-runtime", settings.aws_region, max_attempts=3, max_pool=4)
    return BedrockReranker(
        agent_runtime, model_id=settings.rerank_model_id, region=settings.require("aws_region")
    )


__all__ = ["EMBEDDERS", "GENERATORS", "RERANKERS", "STORES", "Embedder", "Generator", "Reranker", "Store"]
