from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from kotae.errors import IndexMismatch, StoreCorrupt
from kotae.models import Filters
from kotae.providers.sqlite_store import SQLiteStore, _match_expression
from tests.fakes import make_doc as doc


def test_write_search_and_survive_a_restart(tmp_path: Path) -> None:
    # GIVEN a store file with two items
    path = tmp_path / "s.sqlite3"
    store = SQLiteStore(path)
    store.write("a", [doc("a", text="shipping cut-off is 15:00")], {"a#0000": [1.0, 0.0]})
    store.write("b", [doc("b", text="passwords expire yearly")], {"b#0000": [0.0, 1.0]})
    store.close()
    # WHEN it is opened again
    again = SQLiteStore(path)
    # THEN both retrievers still find what was written
    assert [d.document.item_key for d in again.lexical_search("shipping", 5, Filters())] == ["a"]
    nearest = again.vector_search([0.1, 0.9], 5, Filters())
    assert [d.document.item_key for d in nearest] == ["b", "a"]
    assert nearest[0].score == pytest.approx(0.9 / (0.1**2 + 0.9**2) ** 0.5, rel=1e-5)
    assert again.count() == 2 and list(again.item_keys()) == ["a", "b"]
    again.close()


def test_rewrite_removes_stale_chunks_and_keeps_unchanged_vectors(store: SQLiteStore) -> None:
    store.write(
        "a",
        [doc("a", 0, "one"), doc("a", 1, "two"), doc("a", 2, "three")],
        {f"a#000{i}": [1.0, float(i)] for i in range(3)},
    )
    # The item shrinks to one chunk whose text is unchanged (no new vector is passed).
    assert store.write("a", [doc("a", 0, "one")], {})
    state = store.state("a")
    assert state is not None and list(state.documents) == ["a#0000"] and state.has_vector == {"a#0000": True}
    assert store.lexical_search("three", 5, Filters()) == []
    assert [d.document.chunk_id for d in store.vector_search([1.0, 0.0], 5, Filters())] == ["a#0000"]


def test_delete_removes_every_chunk_and_leaves_a_tombstone(store: SQLiteStore) -> None:
    store.write("a", [doc("a", 0), doc("a", 1)], {}, version="200")
    assert store.delete("a", version="300")
    assert store.count() == 0 and store.lexical_search("hello", 5, Filters()) == []
    state = store.state("a")
    assert state is not None and state.deleted and state.version == "300"
    # An older write replayed after the delete does not bring the item back.
    assert store.write("a", [doc("a")], {}, version="250") is False
    assert store.count() == 0
    # A newer one does.
    assert store.write("a", [doc("a")], {}, version="301")
    assert store.count() == 1 and not store.state("a").deleted


def test_older_versions_never_overwrite_newer(store: SQLiteStore) -> None:
    store.write("a", [doc("a", text="new text")], {}, version="1000")
    assert store.write("a", [doc("a", text="old text")], {}, version="999") is False
    assert store.delete("a", version="998") is False
    assert store.state("a").documents["a#0000"].text == "new text"


def test_scope_and_kind_filters_apply_inside_both_queries(store: SQLiteStore) -> None:
    store.write("pub", [doc("pub", text="salary day", scopes=["public"])], {"pub#0000": [1.0, 0.0]})
    store.write("hr", [doc("hr", text="salary bands", scopes=["hr", "managers"])], {"hr#0000": [1.0, 0.0]})
    store.write(
        "rec", [doc("rec", text="salary record", kind="record", scopes=["ops"])], {"rec#0000": [1.0, 0.0]}
    )
    keys = lambda found: sorted(d.document.item_key for d in found)  # noqa: E731
    assert keys(store.lexical_search("salary", 10, Filters(scopes=("public",)))) == ["pub"]
    assert keys(store.lexical_search("salary", 10, Filters(scopes=("managers", "ops")))) == ["hr", "rec"]
    assert keys(store.vector_search([1.0, 0.0], 10, Filters(scopes=("public",)))) == ["pub"]
    assert keys(store.vector_search([1.0, 0.0], 10, Filters(kinds=("record",)))) == ["rec"]
    assert keys(store.lexical_search("salary", 10, Filters(kinds=("faq",), scopes=("hr",)))) == ["hr"]
    assert store.lexical_search("salary", 10, Filters(scopes=())) == []
    assert store.vector_search([1.0, 0.0], 10, Filters(scopes=("nobody",))) == []


def test_query_text_cannot_inject_fts_syntax(store: SQLiteStore) -> None:
    store.write("a", [doc("a", text="near the quote")], {})
    assert _match_expression(['he"llo', "near", "near"]) == '"he""llo" OR "near"'
    for nasty in ['"', "NEAR(a b)", "a OR", "*", "text:near", "^quote", "(", "AND"]:
        store.lexical_search(nasty, 5, Filters())  # must not raise
    assert store.lexical_search("", 5, Filters()) == []


def test_vector_search_on_empty_store_and_dimension_checks(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "v.sqlite3")
    assert store.vector_search([1.0, 2.0], 3, Filters()) == []
    store.write("a", [doc("a")], {"a#0000": [1.0, 0.0, 0.0]})
    with pytest.raises(IndexMismatch, match="3 dimensions|dimensions, the store 3"):
        store.vector_search([1.0, 0.0], 3, Filters())
    with pytest.raises(IndexMismatch, match="size 2, expected 3"):
        store.write("b", [doc("b")], {"b#0000": [1.0, 0.0]})
    store.close()
    with pytest.raises(IndexMismatch, match="kotae reindex"):
        SQLiteStore(tmp_path / "v.sqlite3", dimensions=1024)


def test_corrupt_file_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.sqlite3"
    path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreCorrupt, match="broken.sqlite3 is not a readable kotae store.*ingest again"):
        SQLiteStore(path)


def test_foreign_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    SQLiteStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'")
    with pytest.raises(StoreCorrupt, match="schema '0'"):
        SQLiteStore(path)


def test_failed_write_rolls_back(store: SQLiteStore) -> None:
    store.write("a", [doc("a", text="kept")], {"a#0000": [1.0, 0.0]})
    with pytest.raises(IndexMismatch):
        store.write("a", [doc("a", text="replaced"), doc("a", 1, "extra")], {"a#0001": [1.0, 0.0, 0.0]})
    assert [d.text for d in store.documents("a")] == ["kept"]


def test_term_coverage_weights_rare_terms(store: SQLiteStore) -> None:
    for i in range(5):
        store.write(f"c{i}", [doc(f"c{i}", text=f"common word {i}")], {})
    store.write("r", [doc("r", text="common rare")], {})
    docs = [store.documents("r")[0], store.documents("c0")[0]]
    full, partial = store.term_coverage("common rare", docs)
    assert full == pytest.approx(1.0)
    assert 0.0 < partial < 0.5  # "common" is in six of six documents: a small share of the weight
    assert store.term_coverage("", docs) == [0.0, 0.0]
