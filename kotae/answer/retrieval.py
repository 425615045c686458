"""Hybrid retrieval: lexical and dense candidates fused by a weighted sum of normalized scores.

Language-aware: an embedder declares the languages it is good at. For a query in any other
language its neighbours are noise, and fusing noise can only push good lexical hits down, so
dense retrieval is skipped and the result is the lexical ranking. The eval sets show the effect:
see README "Retrieval quality".

An optional reranker (kotae.providers.rerankers) then reorders the top N fused hits by its own
relevance score, which each hit keeps as ``rerank_score`` for the answer gate. The reranker is an
improvement, not a dependency: when it fails, the fused order stands (a warning and a metric).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Literal

from kotae.answer.relevance import term_coverage
from kotae.errors import ProviderError
from kotae.models import Filters, SearchHit
from kotae.ops import metrics
from kotae.providers.base import Embedder, Reranker, ScoredDocument, Store
from kotae.text import detect_language

Mode = Literal["hybrid", "lexical", "dense"]
Lap = Callable[[str], None]  # ends a timed stage (kotae.answer.context.Clock.lap)
log = logging.getLogger(__name__)


def best_per_item(found: Sequence[ScoredDocument]) -> list[ScoredDocument]:
    """Keep each item's best-scoring chunk, so k hits are k different items."""
    best: dict[str, ScoredDocument] = {}
    for candidate in found:
        key = candidate.document.item_key
        if key not in best or candidate.score > best[key].score:
            best[key] = candidate
    return sorted(best.values(), key=lambda c: -c.score)


def _min_max(found: Sequence[ScoredDocument]) -> dict[str, float]:
    if not found:
        return {}
    high = max(c.score for c in found)
    low = min(c.score for c in found)
    span = (high - low) or 1.0
    return {c.document.item_key: (c.score - low) / span if high != low else 1.0 for c in found}


def fuse(lexical: Sequence[ScoredDocument], dense: Sequence[ScoredDocument], alpha: float) -> list[SearchHit]:
    """Convex combination of min-max normalized scores: (1 - alpha) * lexical + alpha * dense.

    Scores are normalized per query over each candidate list; an item missing from a list gets 0
    from it. With no dense list the order is the lexical one (and vice versa). On
    shared/eval/stackfaq this beat reciprocal rank fusion, which let the weaker list pull
    good dense hits down (see README "Retrieval quality").
    """
    lexical, dense = best_per_item(lexical), best_per_item(dense)
    if not dense:
        alpha = 0.0
    elif not lexical:
        alpha = 1.0
    lex_norm, dense_norm = _min_max(lexical), _min_max(dense)
    hits: dict[str, SearchHit] = {}
    for rank, found in enumerate(lexical, start=1):
        hits[found.document.item_key] = SearchHit(
            document=found.document, score=0.0, lexical_rank=rank, lexical_score=found.score
        )
    for rank, found in enumerate(dense, start=1):
        hit = hits.setdefault(found.document.item_key, SearchHit(document=found.document, score=0.0))
        hit.dense_rank, hit.dense_score = rank, found.score
    for key, hit in hits.items():
        hit.score = round((1 - alpha) * lex_norm.get(key, 0.0) + alpha * dense_norm.get(key, 0.0), 6)
    order = {key: i for i, key in enumerate(hits)}
    return sorted(hits.values(), key=lambda h: (-h.score, order[h.document.item_key]))


def rerank_text(hit: SearchHit) -> str:
    """What the reranker reads of a hit: its title and text (the title once)."""
    doc = hit.document
    return doc.text if doc.text.lstrip().startswith(doc.title.strip()) else f"{doc.title}\n{doc.text}"


def reorder(hits: Sequence[SearchHit], ranked: Sequence[tuple[int, float]]) -> list[SearchHit]:
    """``hits`` in the reranker's order, each with its ``rerank_score``; hits it did not rank
    (beyond its top N, or left out of its answer) follow in their fused order, without a score."""
    ordered = []
    for index, score in ranked:
        hits[index].rerank_score = round(score, 6)
        ordered.append(hits[index])
    chosen = {index for index, _ in ranked}
    return ordered + [hit for i, hit in enumerate(hits) if i not in chosen]


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
        alpha: float = 0.8,
        reranker: Reranker | None = None,
        rerank_top_n: int = 20,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.mode = mode
        self.candidates = candidates
        self.alpha = alpha
        self.reranker = reranker
        self.rerank_top_n = rerank_top_n

    def search(
        self,
        query: str,
        k: int,
        filters: Filters | None = None,
        *,
        relevance: bool = True,
        lap: Lap | None = None,
    ) -> list[SearchHit]:
        """The k best hits for ``query``, graded (``relevance``) and, with a reranker, reordered.

        ``lap`` ends the stages as they finish: "retrieve" (search, fusion, grading) and, when
        a reranker ran, "rerank"."""
        filters = filters or Filters()
        hits = self._retrieve(query, max(k, self.rerank_top_n) if self.reranker else k, filters)
        if relevance and hits:
            self._grade(query, hits, filters)
        if lap is not None:
            lap("retrieve")
        if self.reranker is not None and hits:
            hits = self._rerank(self.reranker, query, hits)
            if lap is not None:
                lap("rerank")
        return hits[:k]

    def _retrieve(self, query: str, k: int, filters: Filters) -> list[SearchHit]:
        """Lexical and (when it applies) dense candidates, fused, the k best."""
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
        return fuse(lexical, dense, self.alpha)[:k]

    def _rerank(self, reranker: Reranker, query: str, hits: list[SearchHit]) -> list[SearchHit]:
        """The top N hits in the reranker's order; the fused order when the reranker fails."""
        top = hits[: self.rerank_top_n]
        try:
            ranked = reranker.rerank(query, [rerank_text(hit) for hit in top])
        except ProviderError as exc:
            log.warning("reranking failed, keeping the fused order", extra={"error": str(exc)})
            metrics.rerank_failed()
            return hits
        return reorder(top, ranked) + hits[len(top) :]

    def _grade(self, query: str, hits: list[SearchHit], filters: Filters) -> None:
        """relevance in 0..1: the better of the chunk's term coverage (the IDF-weighted share of
        the query's terms it contains, defined once for every store in kotae.answer.relevance)
        and its cosine similarity to the query (when dense retrieval ran), scaled by its fused
        score (0..1) into [half, all] of that, so a hit that shares one rare word with the
        question but ranks last is not taken for evidence. The term statistics are those of what
        ``filters`` let the asker see."""
        coverage = term_coverage(self.store, query, [h.document for h in hits], filters)
        for hit, covered in zip(hits, coverage, strict=True):
            similarity = max(0.0, hit.dense_score or 0.0)
            match = min(1.0, max(covered, similarity))
            hit.relevance = round(match * (0.5 + 0.5 * hit.score), 4)
