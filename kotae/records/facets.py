"""An item's facets and timestamp as its documents carry them: exact strings, UTC instants."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from kotae.records.schema import KindSpec

MAX_FACET_CHARS = 256
# Epoch numbers above this are milliseconds (it is 2286-11-20 in seconds).
_MILLIS_FROM = 10_000_000_000


def facet_value(value: Any) -> str | None:
    """The exact-match string of a scalar attribute; None for what cannot be a facet value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        value = int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, int | float | str):
        text = str(value).strip()
        return text[:MAX_FACET_CHARS] if text else None
    return None


def utc_timestamp(value: Any) -> str | None:
    """ISO 8601 in UTC with milliseconds and ``Z`` (sortable as text), from an ISO string or
    epoch seconds/milliseconds; None when the value is no time. A time without an offset is UTC."""
    moment: datetime | None = None
    if isinstance(value, Decimal | int | float) and not isinstance(value, bool):
        number = float(value)
        if number != number or abs(number) > 1e15:
            return None
        seconds = number / 1000 if abs(number) >= _MILLIS_FROM else number
        try:
            moment = datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    elif isinstance(value, str) and value.strip():
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    elif isinstance(value, datetime):
        moment = value
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def item_facets(spec: KindSpec, attributes: dict[str, Any]) -> tuple[dict[str, str], str | None]:
    """(facets, timestamp) of an item of a kind with ``spec``: its attributes already carry the
    kind's field names. Missing or non-scalar facet values are left out."""
    facets = {}
    for name in spec.facets:
        value = facet_value(attributes.get(name))
        if value is not None:
            facets[name] = value
    timestamp = utc_timestamp(attributes.get(spec.timestamp)) if spec.timestamp else None
    return facets, timestamp
