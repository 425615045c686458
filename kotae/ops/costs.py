"""The estimated cost of one answer, from its token counts and the price file.

Prices are the ones the Athena cost query uses (kotae/ops/athena/model_prices.json, or
KOTAE_MODEL_PRICES): USD per 1,000 input and output tokens, keyed by the base model id. An
inference profile's geographic prefix (``jp.``, ``us.``, ``global.`` …) is removed before the
lookup, as the query does, since a profile is priced as its model. An answer that used no
tokens costs nothing whatever its model (the record answers, the extractive answerer, a
not-found answer); a model missing from the file has no estimate (None) and is warned about
once per process, so the log says which price to add.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from kotae.models import Usage
from kotae.ops.athena import Price, load_prices
from kotae.providers.bedrock_models import split_profile

logger = logging.getLogger(__name__)


class PriceBook:
    """Prices by base model id; ``cost`` answers per answer, warning once per unpriced model."""

    def __init__(self, prices: dict[str, Price]) -> None:
        self.prices = dict(prices)
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path | None = None) -> PriceBook:
        """The price file at ``path`` (KOTAE_MODEL_PRICES), or the shipped one; ConfigError if bad."""
        return cls(load_prices(path))

    def price(self, model_id: str) -> Price | None:
        return self.prices.get(model_id) or self.prices.get(split_profile(model_id)[1])

    def cost(self, model_id: str, usage: Usage) -> float | None:
        """USD for these tokens on this model, rounded to a millionth of a cent; None if unpriced."""
        if not usage.input_tokens and not usage.output_tokens:
            return 0.0
        price = self.price(model_id)
        if price is None:
            self._warn(model_id)
            return None
        usd = (usage.input_tokens * price.input_per_1k + usage.output_tokens * price.output_per_1k) / 1000
        return round(usd, 8)

    def _warn(self, model_id: str) -> None:
        with self._lock:
            if model_id in self._warned:
                return
            self._warned.add(model_id)
        logger.warning(
            "no price for model %s: its answers have no cost estimate; add it to the price file "
            "(KOTAE_MODEL_PRICES, see kotae/ops/athena/model_prices.json)",
            model_id,
        )
