"""Answer costs from the price file (kotae.ops.costs)."""

from __future__ import annotations

import logging

import pytest

from kotae.errors import ConfigError
from kotae.models import Usage
from kotae.ops.athena import Price
from kotae.ops.costs import PriceBook

HAIKU = "anthropic.claude-haiku-4-5-20251001-v1:0"


@pytest.mark.parametrize(
    ("model_id", "usage", "cost"),
    [
        # (321 × 0.001 + 45 × 0.005) / 1000
        pytest.param(f"jp.{HAIKU}", Usage(input_tokens=321, output_tokens=45), 0.000546, id="jp-profile"),
        pytest.param(f"global.{HAIKU}", Usage(input_tokens=1000), 0.001, id="global-profile"),
        pytest.param(HAIKU, Usage(output_tokens=1000), 0.005, id="base-model-id"),
        # (321 × 0.003 + 45 × 0.015) / 1000
        pytest.param("jp.anthropic.claude-sonnet-4-5-20250929-v1:0", Usage(input_tokens=321, output_tokens=45),
                     0.001638, id="sonnet-4-5"),
        pytest.param("extractive", Usage(), 0.0, id="extractive"),
        pytest.param("records", Usage(), 0.0, id="no-tokens-unpriced-model"),
        pytest.param("jp.unknown-model-v1:0", Usage(input_tokens=5), None, id="unpriced"),
    ],
)  # fmt: skip
def test_cost_from_the_shipped_prices(model_id: str, usage: Usage, cost: float | None) -> None:
    assert PriceBook.load().cost(model_id, usage) == cost


def test_an_unpriced_model_is_warned_about_once(caplog) -> None:
    book = PriceBook({"m-v1:0": Price(input_per_1k=1, output_per_1k=1)})
    with caplog.at_level(logging.WARNING, logger="kotae.ops.costs"):
        for _ in range(3):
            assert book.cost("other-v1:0", Usage(input_tokens=10)) is None
        assert book.cost("third-v1:0", Usage(input_tokens=10)) is None
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 2 and "other-v1:0" in warned[0] and "KOTAE_MODEL_PRICES" in warned[0]


def test_a_configured_price_file_is_used(tmp_path) -> None:
    path = tmp_path / "prices.json"
    path.write_text('{"my.model-v1:0": {"input_per_1k": 0.5, "output_per_1k": 1.5}}')
    assert PriceBook.load(path).cost("my.model-v1:0", Usage(input_tokens=2000, output_tokens=1000)) == 2.5


def test_a_bad_price_file_fails_at_start(tmp_path) -> None:
    path = tmp_path / "prices.json"
    path.write_text("{")
    with pytest.raises(ConfigError, match="KOTAE_MODEL_PRICES"):
        PriceBook.load(path)
