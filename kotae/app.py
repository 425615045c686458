"""Wiring: one Settings in, the providers, retriever, pipeline and indexer out.

Each process (CLI run, Lambda cold start) builds one ``Kotae`` and reuses it.
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import Any

from kotae.answer.pipeline import AnswerPipeline
from kotae.answer.prompts import DirectorySource, DynamoDBSource, PromptRegistry, PromptSource
from kotae.answer.retrieval import Retriever
from kotae.answer.routing import RoutingPolicy
from kotae.indexing.indexer import Indexer
from kotae.indexing.render import DocumentRenderer
from kotae.ops.costs import PriceBook
from kotae.providers import EMBEDDERS, GENERATORS, RERANKERS, STORES, Embedder, Generator, Reranker, Store
from kotae.records.schema import ItemSchema, load_schema
from kotae.records.service import RecordService
from kotae.settings import Settings, load_settings
from kotae.templates import default_prompts_dir


class Kotae:
    """Lazily built components; tests pass fakes in through the keyword arguments."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        store: Store | None = None,
        embedder: Embedder | None = None,
        generator: Generator | None = None,
        reranker: Reranker | None = None,
        prompt_sources: list[PromptSource] | None = None,
    ) -> None:
        self.settings = settings or load_settings()
        self._overrides: dict[str, Any] = {
            "store": store,
            "embedder": embedder,
            "generator": generator,
            "reranker": reranker,
        }
        self._prompt_sources = prompt_sources
        self._generators: dict[str, Generator] = {}
        self._lock = threading.Lock()

    @cached_property
    def prompts_dir(self) -> Any:
        return default_prompts_dir(self.settings.prompts_dir)

    @cached_property
    def embedder(self) -> Embedder | None:
        if self._overrides["embedder"] is not None:
            return self._overrides["embedder"]
        return EMBEDDERS.create(self.settings.embedder, self.settings)

    @cached_property
    def store(self) -> Store:
        return self._overrides["store"] or STORES.create(self.settings.store, self.settings)

    @cached_property
    def generator(self) -> Generator:
        return self._overrides["generator"] or GENERATORS.create(self.settings.generator, self.settings)

    def generator_for(self, model_id: str) -> Generator:
        """The configured provider with another model (a channel's), built once per model.

        The extractive answerer has no model to switch, so it answers for any model id."""
        if not getattr(self.generator, "uses_llm", False) or self._overrides["generator"] is not None:
            return self.generator
        with self._lock:
            if model_id not in self._generators:
                settings = self.settings.model_copy(update={"generation_model_id": model_id})
                self._generators[model_id] = GENERATORS.create(self.settings.generator, settings)
            return self._generators[model_id]

    @cached_property
    def prompts(self) -> PromptRegistry:
        if self._prompt_sources is not None:
            return PromptRegistry(*self._prompt_sources)
        sources: list[PromptSource] = []
        if self.settings.prompt_source == "dynamodb":
            from kotae.aws import client

            sources.append(
                DynamoDBSource(self.settings.prompt_table, client("dynamodb", self.settings.aws_region))
            )
        sources.append(DirectorySource(self.prompts_dir))
        return PromptRegistry(*sources)

    @cached_property
    def schema(self) -> ItemSchema:
        s = self.settings
        return load_schema(s.schema_file, kind_attribute=s.kind_attribute, default_kind=s.default_kind)

    @cached_property
    def renderer(self) -> DocumentRenderer:
        return DocumentRenderer(
            self.prompts_dir,
            chunk_chars=self.settings.chunk_chars,
            chunk_overlap=self.settings.chunk_overlap,
            schema=self.schema,
        )

    @cached_property
    def reranker(self) -> Reranker | None:
        return self._overrides["reranker"] or RERANKERS.create(self.settings.reranker, self.settings)

    @cached_property
    def retriever(self) -> Retriever:
        s = self.settings
        return Retriever(
            self.store,
            self.embedder,
            mode=s.retrieval_mode,
            alpha=s.hybrid_alpha,
            reranker=self.reranker,
            rerank_top_n=s.rerank_top_n,
        )

    @cached_property
    def indexer(self) -> Indexer:
        return Indexer(self.renderer, self.store, self.embedder)

    @cached_property
    def pipeline(self) -> AnswerPipeline:
        s = self.settings
        return AnswerPipeline(
            self.retriever,
            self.prompts,
            self.generator,
            prompt_task=s.prompt_task,
            prompt_version=s.prompt_version,
            top_k=s.top_k,
            min_relevance=s.min_relevance,
            max_question_chars=s.max_question_chars,
            max_context_chars=s.max_context_chars,
            generator_for=self.generator_for,
            records=self.records,
            answer_gate=s.answer_gate,
            record_tools=s.record_tools == "auto",
            max_tool_rounds=s.max_tool_rounds,
            record_prompt_version=s.record_prompt_version,
            routing=self.routing,
            prices=self.prices,
        )

    @cached_property
    def routing(self) -> RoutingPolicy:
        """The light and strong models (KOTAE_LIGHT_MODEL_ID defaults to the generation model)."""
        s = self.settings
        return RoutingPolicy(
            default_model_id=self.generator.model_id,
            light_model_id=s.light_model_id or s.generation_model_id,
            strong_model_id=s.strong_model_id,
            enabled=s.routing == "auto",
        )

    @cached_property
    def prices(self) -> PriceBook:
        return PriceBook.load(self.settings.model_prices)

    @cached_property
    def records(self) -> RecordService:
        return RecordService(self.store, self.schema, list_limit=self.settings.record_list_limit)

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
