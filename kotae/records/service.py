"""Record questions end to end, without a model: understand, check, execute, explain misses.

``RecordService`` stands between the answer path (or a tool call from Claude) and the store:
it checks a query against the kind's configured facets before the store sees it, applies the
asker's filters, and for values that no visible record has, finds the closest ones that exist.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from kotae.errors import InvalidRecordQuery
from kotae.models import Filters
from kotae.providers.base import RecordQuerying
from kotae.records.query import RecordQuery, RecordResult
from kotae.records.schema import ItemSchema

CLOSEST = 3
_STEM = re.compile(r"^[^0-9]*")  # what an id starts with before its first digit: ex-, r-, rec_


@dataclass(frozen=True)
class BoundLookup:
    """The store's facet lookups for one kind, as one asker may see them (the parser's FacetLookup)."""

    store: RecordQuerying
    kind: str
    filters: Filters

    def facet_matches(self, values: Sequence[str]) -> dict[str, list[str]]:
        return self.store.facet_matches(self.kind, values, self.filters) if values else {}

    def facet_values(self, facet: str, *, prefix: str = "", limit: int = 1000) -> dict[str, int]:
        return self.store.facet_values(self.kind, facet, self.filters, prefix=prefix, limit=limit)


class RecordService:
    def __init__(self, store: RecordQuerying, schema: ItemSchema, *, list_limit: int = 10) -> None:
        self.store = store
        self.schema = schema
        self.list_limit = list_limit

    def kinds(self, filters: Filters) -> list[str]:
        """Kinds with facets that the filters let the asker query (none if the store cannot)."""
        if not isinstance(self.store, RecordQuerying):
            return []
        return [k for k in self.schema.facet_kinds() if filters.kinds is None or k in filters.kinds]

    def lookup(self, kind: str, filters: Filters) -> BoundLookup:
        return BoundLookup(self.store, kind, filters)

    def understand(
        self, question: str, filters: Filters, *, now: datetime | None = None
    ) -> RecordResult | None:
        """The record query a question asks, executed; None when it is not a record question."""
        from kotae.records.parser import parse_question

        for kind in self.kinds(filters):
            parsed = parse_question(
                question,
                self.lookup(kind, filters),
                kind=kind,
                spec=self.schema.spec(kind),
                limit=self.list_limit,
                now=now,
            )
            if parsed is not None:
                return self.execute(parsed.query, filters, unknown=parsed.unknown)
        return None

    def signal(self, question: str, filters: Filters) -> bool:
        """Whether the question could be about records (then Claude gets the record tools)."""
        from kotae.records.parser import record_signal

        return any(
            record_signal(question, self.lookup(kind, filters), spec=self.schema.spec(kind))
            for kind in self.kinds(filters)
        )

    def check(self, query: RecordQuery, filters: Filters) -> None:
        """Refuse a query the schema cannot answer, naming what it can."""
        kinds = self.kinds(filters)
        if query.kind not in kinds:
            known = ", ".join(kinds) or "none"
            raise InvalidRecordQuery(
                f"kind {query.kind!r} has no record facets here (kinds with facets: {known})"
            )
        facets = set(self.schema.spec(query.kind).facets)
        unknown = sorted(query.facets() - facets)
        if unknown:
            raise InvalidRecordQuery(
                f"{', '.join(unknown)} {'is not a facet' if len(unknown) == 1 else 'are not facets'} of "
                f"{query.kind} (facets: {', '.join(sorted(facets))})"
            )

    def execute(
        self, query: RecordQuery, filters: Filters, *, unknown: dict[str, list[str]] | None = None
    ) -> RecordResult:
        """Run a checked query for an asker. Named values that no visible record has are reported
        with the closest existing ones, and the query is not run: "0 failures" would be a wrong
        answer about a run that does not exist (or that the asker may not see)."""
        self.check(query, filters)
        scoped = Filters(scopes=filters.scopes, kinds=(query.kind,))
        missing = {facet: values for facet, values in (unknown or {}).items() if values}
        missing.update(self._absent(query, scoped))
        if missing:
            closest = {
                facet: self.closest(query.kind, facet, values, scoped)
                for facet, values in sorted(missing.items())
            }
            return RecordResult(query=query, total=0, unknown=closest)
        # A count lists its first records too, so the answer can cite them ("and N more").
        run = query.model_copy(update={"operation": "list"}) if query.operation == "count" else query
        result = self.store.query_records(run, scoped).model_copy(update={"query": query})
        return result.model_copy(update={"unfiltered": self.unfiltered(query)})

    def unfiltered(self, query: RecordQuery) -> bool:
        """Whether nothing narrowed the query to a run, a task or a time: "how many failed?"
        filters on a status (a facet with configured words) only, so it covers every record the
        asker may see, and the answer says so."""
        described = set(self.schema.spec(query.kind).values)
        return not (set(query.where) - described) and query.since is None and query.until is None

    def _absent(self, query: RecordQuery, filters: Filters) -> dict[str, list[str]]:
        """Values in ``where`` that no visible record has, per facet (a tool call may name them)."""
        spec = self.schema.spec(query.kind)
        named = sorted({v for values in query.where.values() for v in values})
        found = self.store.facet_matches(query.kind, named, filters) if named else {}
        absent: dict[str, list[str]] = {}
        for facet, values in query.where.items():
            if any(v in spec.values.get(facet, {}) for v in values):
                continue  # a value the schema knows (a status): none of it is a count of 0, not a typo
            if not any(facet in found.get(v, ()) for v in values):
                absent[facet] = list(values)
        return absent

    def closest(self, kind: str, facet: str, values: Sequence[str], filters: Filters) -> list[str]:
        """Up to CLOSEST existing values of ``facet`` nearest to ``values`` (same stem first)."""
        candidates: dict[str, int] = {}
        for value in values:
            stem = _STEM.match(value)
            prefix = stem.group(0) if stem else ""
            candidates.update(self.store.facet_values(kind, facet, filters, prefix=prefix, limit=5000))
            if not candidates:
                candidates.update(self.store.facet_values(kind, facet, filters, limit=5000))
        pool = list(candidates)
        ranked: list[str] = []
        for value in values:
            ranked.extend(difflib.get_close_matches(value, pool, n=CLOSEST, cutoff=0.0))
        return list(dict.fromkeys(ranked))[:CLOSEST]
