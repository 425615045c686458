"""k-NN scores of the OpenSearch stand-in, as the k-NN "Spaces" page documents them for each space
type and engine (https://docs.opensearch.org/latest/mappings/supported-field-types/knn-spaces/):

=============  ======================================  ===============================================
space          distance d                              OpenSearch ``_score``
=============  ======================================  ===============================================
l1             sum |x_i - y_i|                         1 / (1 + d)
l2             sum (x_i - y_i)^2                       1 / (1 + d)
linf           max |x_i - y_i|                         1 / (1 + d)
cosinesimil    1 - cos(x, y)                           (2 - d) / 2
innerproduct   faiss, nmslib, exact: d = -x.y          d >= 0: 1 / (1 + d);  d < 0: -d + 1
               lucene: d = x.y                         d > 0: d + 1;  d <= 0: 1 / (1 + (-1 * d))
=============  ======================================  ===============================================

A field's space is ``method.space_type`` or the field's own ``space_type``, else ``l2`` (the
documented default); its engine is ``method.engine``, else faiss (kotae always names both). The
formulas are written out here from that table, independently of kotae's reading
of scores (kotae.providers.opensearch_queries.cosine), so a test through the stand-in checks
kotae against the documentation rather than against itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from tests.standins.opensearch_errors import ApiError

DEFAULT_SPACE = "l2"
DEFAULT_ENGINE = "faiss"

Vector = Sequence[float]


def _dot(x: Vector, y: Vector) -> float:
    return sum(a * b for a, b in zip(x, y, strict=True))


def _reciprocal(d: float) -> float:
    return 1 / (1 + d)


def _cosinesimil(x: Vector, y: Vector) -> float:
    norms = math.sqrt(_dot(x, x)) * math.sqrt(_dot(y, y))
    if norms == 0:  # the page: a zero vector is rejected for cosine similarity
        raise ApiError(400, "illegal_argument_exception", "zero vector is not supported when space type is [cosinesimil]")
    d = 1 - _dot(x, y) / norms
    return (2 - d) / 2


def _innerproduct(x: Vector, y: Vector) -> float:
    d = -_dot(x, y)
    return 1 / (1 + d) if d >= 0 else -d + 1


def _innerproduct_lucene(x: Vector, y: Vector) -> float:
    d = _dot(x, y)
    return d + 1 if d > 0 else 1 / (1 + (-1 * d))


_SCORES: dict[str, Callable[[Vector, Vector], float]] = {
    "l1": lambda x, y: _reciprocal(sum(abs(a - b) for a, b in zip(x, y, strict=True))),
    "l2": lambda x, y: _reciprocal(sum((a - b) ** 2 for a, b in zip(x, y, strict=True))),
    "linf": lambda x, y: _reciprocal(max((abs(a - b) for a, b in zip(x, y, strict=True)), default=0.0)),
    "cosinesimil": _cosinesimil,
    "innerproduct": _innerproduct,
}


def space_of(field: dict[str, Any]) -> tuple[str, str]:
    """(space type, engine) of a knn_vector field mapping."""
    method = field.get("method") or {}
    space = method.get("space_type") or field.get("space_type") or DEFAULT_SPACE
    return str(space), str(method.get("engine") or DEFAULT_ENGINE)


def score(field: dict[str, Any], stored: Vector, query: Vector) -> float:
    """The ``_score`` of a document whose vector is ``stored`` for the query vector ``query``."""
    space, engine = space_of(field)
    if space == "innerproduct" and engine == "lucene":
        return _innerproduct_lucene(stored, query)
    if space not in _SCORES:
        raise ApiError(400, "illegal_argument_exception", f"the stand-in does not model space type [{space}]")
    return _SCORES[space](stored, query)
