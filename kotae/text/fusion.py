"""The lexical ranking's weights and its fusion of the word and character-gram lists, shared by
both stores so that what is tuned on the embedded store holds on OpenSearch.

Each store ranks two lists itself (words + synonym expansions, and character bigrams; see
:mod:`kotae.providers.sqlite_store.lexical` and :mod:`kotae.providers.opensearch_lexical`) and
fuses them here, client side: OpenSearch's own score normalization (the ``normalization-processor``
of a search pipeline) is min-max, which is not this.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Literal, TypeVar

# Reciprocal rank fusion's constant (Cormack et al. 2009).
RRF_K = 60

Key = TypeVar("Key", bound=Hashable)


@dataclass(frozen=True)
class LexicalRanking:
    """How the lexical lists are weighed and fused. The defaults are the shipped ranking; the
    other values exist to measure each step (an ablation) and are not settings."""

    title_weight: float = 2.0
    body_weight: float = 1.0
    synonym_weight: float = 0.3
    gram_weight: float = 0.3
    fusion: Literal["score", "rrf"] = "score"
    synonyms: bool = True
    grams: bool = True


def fuse(
    words: dict[Key, float], grams: dict[Key, float], ranking: LexicalRanking
) -> list[tuple[Key, float]]:
    """One ranking from the word and gram lists: weighted sum of scores divided by each list's
    best (``score``) or reciprocal rank fusion (``rrf``); ties keep the word list's order."""
    if not grams:
        return sorted(words.items(), key=lambda pair: -pair[1])
    weights = {"words": 1.0 - ranking.gram_weight, "grams": ranking.gram_weight}
    fused: dict[Key, float] = {}
    for name, scores in (("words", words), ("grams", grams)):
        ordered = sorted(scores.items(), key=lambda pair: -pair[1])
        best = ordered[0][1] if ordered and ordered[0][1] > 0 else 1.0
        for rank, (key, score) in enumerate(ordered, start=1):
            part = score / best if ranking.fusion == "score" else 1.0 / (RRF_K + rank)
            fused[key] = fused.get(key, 0.0) + weights[name] * part
    return sorted(fused.items(), key=lambda pair: -pair[1])
