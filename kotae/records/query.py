"""The typed record query and its result: what a store executes and what an answer reports.

A query never carries text to splice into SQL or a search body: facet names are checked against
the kind's configured facets, and every value travels as a bound parameter or a term.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kotae.models import Document

Operation = Literal["count", "list", "latest", "group"]
FACET_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,63}$")
MAX_VALUES = 50
MAX_VALUE_CHARS = 256
MAX_LIMIT = 100


class RecordQuery(BaseModel):
    """Filters on facets, a time range, and one operation over the records of one kind.

    ``where`` maps a facet to the values it may take (any of them); facets are combined with AND.
    ``since`` is inclusive, ``until`` exclusive, both on the kind's timestamp facet.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str = Field(
        default="record", description="The kind of item to query.", pattern=r"^[A-Za-z0-9_.-]{1,64}$"
    )
    operation: Operation = Field(
        description="count: how many match; list: the matching records (newest first); "
        "latest: the newest matching record(s); group: counts grouped by one or two facets."
    )
    where: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Facet name -> accepted values (any of them). Facets are combined with AND.",
    )
    since: datetime | None = Field(default=None, description="Only records at or after this time (ISO 8601).")
    until: datetime | None = Field(default=None, description="Only records before this time (ISO 8601).")
    group_by: list[str] = Field(
        default_factory=list, description="For operation=group: one or two facet names.", max_length=2
    )
    limit: int = Field(default=10, ge=1, le=MAX_LIMIT, description="How many records to list at most.")

    @field_validator("where")
    @classmethod
    def _where(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, values in value.items():
            _check_facet(name)
            if not values or len(values) > MAX_VALUES:
                raise ValueError(f"facet {name!r} needs 1 to {MAX_VALUES} values")
            if any(not isinstance(v, str) or not v or len(v) > MAX_VALUE_CHARS for v in values):
                raise ValueError(
                    f"every value of {name!r} is a non-empty string of at most {MAX_VALUE_CHARS} characters"
                )
        return {name: sorted(set(values)) for name, values in sorted(value.items())}

    @field_validator("group_by")
    @classmethod
    def _group_by(cls, value: list[str]) -> list[str]:
        for name in value:
            _check_facet(name)
        if len(set(value)) != len(value):
            raise ValueError("group_by names a facet twice")
        return value

    @field_validator("since", "until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> RecordQuery:
        if (self.operation == "group") != bool(self.group_by):
            raise ValueError("group_by is given exactly when operation is group")
        if self.since and self.until and self.since >= self.until:
            raise ValueError("since must be before until")
        return self

    def facets(self) -> set[str]:
        """Every facet the query names."""
        return set(self.where) | set(self.group_by)


def _check_facet(name: str) -> None:
    if not isinstance(name, str) or not FACET_NAME.match(name):
        raise ValueError(f"{str(name)[:70]!r} is not a facet name")


class RecordResult(BaseModel):
    """What a store found. ``keys`` are the item keys listed (at most ``query.limit``, newest
    first, ties by key); ``groups`` maps a value to a count, or for two facets a value to a
    mapping of the second facet's values to counts. ``documents`` are the listed records' first
    chunks, in the order of ``keys``, for citing; they are not part of the JSON."""

    query: RecordQuery
    total: int
    keys: list[str] = Field(default_factory=list)
    groups: dict[str, Any] = Field(default_factory=dict)
    documents: list[Document] = Field(default_factory=list, exclude=True)
    # Facet values the question named that no visible record has, with the closest ones that exist.
    unknown: dict[str, list[str]] = Field(default_factory=dict)
    # True when no filter narrowed the query: the answer says it covers all the asker may see.
    unfiltered: bool = False

    def public(self) -> dict[str, Any]:
        """The JSON of ``kotae ask --json`` ``records`` and of the answer log."""
        return self.model_dump(
            mode="json", include={"query", "total", "keys", "groups", "unknown", "unfiltered"}
        )
