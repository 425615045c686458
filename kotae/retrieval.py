"""Hybrid retrieval: lexical and dense candidates fused by weighted reciprocal rank fusion.

Language-aware: an embedder declares the languages it is good at. For a query in any other
language its neighbours are noise, and fusing noise can only push good lexical hits down, so
dense retrieval is skipped and the result is the lexical ranking. The eval sets show the effect:
see README "Retrieval quality".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from kotae.models import Filters, SearchHit
from kotae.providers.base import Embedder, ScoredDocument, Store
from kotae.text import detect_language

Mode = Literal["hybrid", "lexical", "dense"]


@dataclass(frozen=True)
class FusionWeights:
    lexical: float = 1.0
    dense: float = 1.0
    rank_constant: int = 60


def fuse(
    lexical: Sequence[ScoredDocument], dense: Sequence[ScoredDocument], weights: FusionWeights
) -> list[SearchHit]:
    """Weighted RRF: sum over lists of weight / (rank_constant + rank). Ties keep lexical order."""
    hits: dict[str, SearchHit] = {}
    for rank, found in enumerate(lexical, start=1):
        hits[found.document.chunk_id] = SearchHit(
            document=found.document,
            score=weights.lexical / (weights.rank_constant + rank),
            lexical_rank=rank,
            lexical_score=found.score,
        )
    for rank, found in enumerate(dense, start=1):
        gain = weights.dense / (weights.rank_constant + rank)
        hit = hits.get(found.document.chunk_id)
        if hit is None:
            hits[found.document.chunk_id] = SearchHit(
                document=found.document, score=gain, dense_rank=rank, dense_score=found.score
            )
        else:
            hit.score += gain
            hit.dense_rank = rank
            hit.dense_score = found.score
    order = {cid: i for i, cid in enumerate(hits)}
    return sorted(hits.values(), key=lambda h: (-h.score, order[h.document.chunk_id]))


def dense_applies(embedder: Embedder | None, lang: str) -> bool:
    return embedder is not None and (embedder.languages is None or lang in embedder.languages)


class Retriever:
    """Finds the chunks most relevant to a query, within what the filters allow."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder | None,
        *,
        mode: Mode = "hybrid",
        candidates: int = 50,
        weights: FusionWeights | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.mode = mode
        self.candidates = candidates
        self.weights = weights or FusionWeights()

    def search(self, query: str, k: int, filters: Filters | None = None, *, relevance: bool = True) -> list[SearchHit]:
        filters = filters or Filters()
        lang = detect_language(query)
        pool = max(self.candidates, k)
        use_dense = self.mode != "lexical" and (
            dense_applies(self.embedder, lang) or (self.mode == "dense" and self.embedder is not None)
        )
        lexical = self.store.lexical_search(query, pool, filters) if self.mode != "dense" else []
        dense: list[ScoredDocument] = []
        if use_dense:
            assert self.embedder is not None
            vector = self.embedder.embed([query], purpose="query")[0]
            dense = self.store.vector_search(vector, pool, filters)
        hits = fuse(lexical, dense, self.weights)[:k]
        if relevance and hits:
            self._grade(query, hits)
        return hits

    def _grade(self, query: str, hits: list[SearchHit]) -> None:
        """relevance in 0..1: the better of the IDF-weighted share of query terms the chunk
        contains and its cosine similarity to the query (when dense retrieval ran)."""
        coverage = self.store.term_coverage(query, [h.document for h in hits])
        for hit, covered in zip(hits, coverage, strict=True):
            similarity = max(0.0, hit.dense_score or 0.0)
            hit.relevance = round(min(1.0, max(covered, similarity)), 4)
