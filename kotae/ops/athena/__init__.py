"""Athena queries over the answer and feedback logs, shipped as SQL files in this folder.

The files are Jinja templates so that the database name, the time window and the model prices
(USD per 1,000 tokens, from model_prices.json or KOTAE_MODEL_PRICES) are configuration, not
edits: ``kotae athena show NAME`` prints a query ready for the Athena console or
``aws athena start-query-execution``. Tables and columns are the ones infra/ defines in Glue.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jinja2
from pydantic import BaseModel, Field, ValidationError

from kotae.errors import ConfigError, InputError

HERE = Path(__file__).parent
DEFAULT_PRICES = HERE / "model_prices.json"
_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_DATABASE = re.compile(r"^[a-z0-9_]{1,255}$")


class Price(BaseModel):
    input_per_1k: float = Field(ge=0)
    output_per_1k: float = Field(ge=0)


def queries() -> dict[str, str]:
    """name -> its first comment line (what the query answers)."""
    found = {}
    for path in sorted(HERE.glob("*.sql")):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        found[path.stem] = first.removeprefix("--").strip()
    return found


def load_prices(path: Path | None = None) -> dict[str, Price]:
    path = path or DEFAULT_PRICES
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        prices = {
            model: Price.model_validate(value) for model, value in raw.items() if not model.startswith("_")
        }
    except (OSError, json.JSONDecodeError, ValidationError, AttributeError) as exc:
        raise ConfigError(f"KOTAE_MODEL_PRICES={path}: not a price table ({exc})") from exc
    bad = [model for model in prices if not _MODEL.match(model)]
    if bad:  # model ids go into SQL string literals: only plain ids are accepted
        raise ConfigError(f"KOTAE_MODEL_PRICES={path}: not a model id: {', '.join(bad)}")
    return prices


def render(
    name: str, *, database: str = "kotae_logs", days: int = 30, prices: dict[str, Price] | None = None
) -> str:
    if name not in queries():
        raise InputError(f"no Athena query {name!r}; one of: {', '.join(queries())}")
    if not _DATABASE.match(database):
        raise InputError(f"{database!r} is not a Glue database name (lowercase letters, digits, '_')")
    if not 1 <= days <= 3660:
        raise InputError("days must be between 1 and 3660")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE)), undefined=jinja2.StrictUndefined)
    table = {model: price.model_dump() for model, price in (prices or load_prices()).items()}
    return env.get_template(f"{name}.sql").render(database=database, days=days, prices=table).strip() + "\n"
