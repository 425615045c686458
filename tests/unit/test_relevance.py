"""Term coverage, the lexical half of the answer gate's relevance (kotae.answer.relevance)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

from kotae.answer.relevance import coverage, idf_weights, query_terms, term_coverage
from kotae.models import Filters
from kotae.providers.sqlite_store import SQLiteStore
from tests.fakes import make_doc as doc


class Frequencies:
    """Term statistics given up front; records every question asked."""

    def __init__(self, chunks: int, df: dict[str, int]) -> None:
        self.chunks, self.df = chunks, df
        self.asked: list[list[str]] = []
        self.filters: list[Filters | None] = []

    def term_frequencies(self, terms: Sequence[str], filters: Filters | None = None) -> tuple[int, dict[str, int]]:
        self.asked.append(list(terms))
        self.filters.append(filters)
        return self.chunks, {t: self.df[t] for t in terms if t in self.df}


def test_query_terms_are_the_distinct_tokens_in_order() -> None:
    assert query_terms("VPN setup, the VPN") == ["vpn", "setup"]


@pytest.mark.parametrize(
    ("chunks", "df", "expected"),
    [
        pytest.param(10, 0, math.log(1 + 10.5 / 0.5), id="unseen-term"),
        pytest.param(10, 10, math.log(1 + 0.5 / 10.5), id="in-every-chunk"),
        pytest.param(0, 0, math.log(1 + 1.5 / 0.5), id="empty-store-counts-as-one-chunk"),
        pytest.param(2, 5, math.log(1 + 0.5 / 2.5), id="df-above-chunks-is-capped"),
    ],
)
def test_idf_is_the_bm25_formula(chunks: int, df: int, expected: float) -> None:
    assert idf_weights(["t"], chunks, {"t": df})["t"] == pytest.approx(expected)


def test_coverage_is_the_weight_share_of_the_terms_a_chunk_holds() -> None:
    weights = {"vpn": 3.0, "setup": 1.0}
    docs = [doc("a", text="VPN setup guide"), doc("b", text="vpn only"), doc("c", text="printer")]
    assert coverage(weights, docs) == pytest.approx([1.0, 0.75, 0.0])
    assert coverage({}, docs) == [0.0, 0.0, 0.0]


def test_term_coverage_asks_the_store_once_for_the_query_terms() -> None:
    stats = Frequencies(100, {"vpn": 50, "setup": 1})
    covered = term_coverage(stats, "vpn setup vpn", [doc("a", text="setup"), doc("b", text="vpn")])
    assert stats.asked == [["vpn", "setup"]] and stats.filters == [Filters()]
    assert covered[0] > 0.8 > 0.2 > covered[1] > 0.0  # the rare term carries the weight
    assert sum(covered) == pytest.approx(1.0)


def test_a_query_without_terms_covers_nothing_and_asks_nothing() -> None:
    stats = Frequencies(1, {})
    assert term_coverage(stats, "the of", [doc("a")]) == [0.0]
    assert term_coverage(stats, "vpn", []) == []
    assert stats.asked == []


def test_rare_terms_weigh_more_with_the_embedded_store(store: SQLiteStore) -> None:
    for i in range(5):
        store.write(f"c{i}", [doc(f"c{i}", text=f"common word {i}")], {})
    store.write("r", [doc("r", text="common rare")], {})
    docs = [store.documents("r")[0], store.documents("c0")[0]]
    full, partial = term_coverage(store, "common rare", docs)
    assert full == pytest.approx(1.0)
    assert 0.0 < partial < 0.5  # "common" is in six of six documents: a small share of the weight
    assert term_coverage(store, "", docs) == [0.0, 0.0]


def test_term_coverage_asks_for_the_frequencies_of_what_the_asker_may_see() -> None:
    stats = Frequencies(10, {"vpn": 1})
    term_coverage(stats, "vpn", [doc("a", text="vpn")], Filters(scopes=("public",)))
    assert stats.filters == [Filters(scopes=("public",))]


def test_hidden_chunks_do_not_weigh_in_the_embedded_store(store: SQLiteStore) -> None:
    # GIVEN public chunks and one hidden chunk holding a word no public chunk holds
    for i in range(3):
        store.write(f"p{i}", [doc(f"p{i}", text=f"office guide {i}")], {})
    store.write("h", [doc("h", text="office layoffs", scopes=["hr"])], {})
    public = Filters(scopes=("public",))
    office, layoff = query_terms("office layoffs")
    # THEN the public view's statistics are the same as if the hidden chunk did not exist
    assert store.term_frequencies([office, layoff], public) == (3, {office: 3})
    assert store.term_frequencies([office, layoff]) == (4, {office: 4, layoff: 1})
    docs = [store.documents("p0")[0]]
    assert term_coverage(store, "office layoffs", docs, public) == term_coverage(
        store, "office nosuchword", docs, public
    )
