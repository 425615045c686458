from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from kotae.errors import IndexMismatch, StoreCorrupt, StoreError
from kotae.models import Filters
from kotae.providers.base import IndexBootstrap, Reindexing
from kotae.providers.sqlite_store import SQLiteStore, schema
from kotae.providers.sqlite_store.lexical import match_expression
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
    assert match_expression([['he"llo'], ["near"], ["near"]]) == '"he""llo" OR "near"'
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


def test_term_frequencies_count_the_chunks_holding_each_token(store: SQLiteStore) -> None:
    # GIVEN six chunks sharing "common", one of them also "rare", then one rewritten and one deleted
    for i in range(5):
        store.write(f"c{i}", [doc(f"c{i}", text=f"common word {i}")], {})
    store.write("r", [doc("r", text="common rare")], {})
    store.write("c0", [doc("c0", text="other words")], {})
    store.delete("c1")
    # THEN the counts follow the chunks as they are now; absent terms are left out
    assert store.term_frequencies(["common", "rare", "absent", "common"]) == (5, {"common": 4, "rare": 1})
    assert store.term_frequencies([]) == (5, {})


def test_ensure_index_checks_the_file_and_names_it(store: SQLiteStore) -> None:
    assert isinstance(store, IndexBootstrap) and isinstance(store, Reindexing)
    assert store.ensure_index() == str(store.path)


def _fill_with(*keys: str):
    def fill(target) -> None:
        for key in keys:
            target.write(key, [doc(key, text=f"fresh {key}")], {f"{key}#0000": [1.0, 0.0, 0.0]})

    return fill


def test_reindex_copies_a_fresh_file_into_this_one(tmp_path: Path) -> None:
    # GIVEN a store file with an item, and the leftovers of an interrupted reindex next to it
    path = tmp_path / "s.sqlite3"
    store = SQLiteStore(path)
    store.write("old", [doc("old", text="old words")], {"old#0000": [1.0, 0.0]})
    (tmp_path / "s.sqlite3.reindex").write_bytes(b"half a file")
    (tmp_path / "s.sqlite3.reindex-wal").write_bytes(b"its log")
    lines: list[str] = []
    inode = path.stat().st_ino
    # WHEN it is reindexed with 3-dimension vectors
    assert store.reindex(3, _fill_with("a", "b"), report=lines.append) == str(path)
    # THEN the same store reads the new content, in the same file (never replaced while in use)
    assert path.stat().st_ino == inode
    assert sorted(store.item_keys()) == ["a", "b"] and store.lexical_search("old", 5, Filters()) == []
    assert store.vector_search([1.0, 0.0, 0.0], 5, Filters())[0].score == pytest.approx(1.0)
    assert lines == [f"{path} rebuilt"]
    assert not [p.name for p in tmp_path.iterdir() if "reindex" in p.name]
    store.close()
    assert sorted(SQLiteStore(path, dimensions=3).item_keys()) == ["a", "b"]


def test_failed_reindex_keeps_the_old_file_and_removes_the_fresh_one(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite3")
    store.write("old", [doc("old")], {})

    def fill(target) -> None:
        _fill_with("a")(target)
        raise StoreError("items failed")

    with pytest.raises(StoreError, match="items failed"):
        store.reindex(3, fill)
    assert list(store.item_keys()) == ["old"]
    assert not [p.name for p in tmp_path.iterdir() if "reindex" in p.name]


def test_in_memory_store_cannot_be_reindexed() -> None:
    store = SQLiteStore(":memory:")
    with pytest.raises(StoreError, match="in-memory store has no file"):
        store.reindex(3, _fill_with("a"))


def _as_schema_1(path: Path) -> None:
    """Turn a closed store file back into the previous schema: term counts over the whole store
    (``term_df``), no visibility classes."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE term_df (term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID")
        db.execute("INSERT INTO term_df SELECT term, sum(df) FROM class_df GROUP BY term")
        db.execute("DROP TABLE class_df")
        db.execute("DROP TABLE classes")
        db.execute("ALTER TABLE chunks DROP COLUMN class")
        db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")


def test_a_file_of_the_previous_schema_is_brought_up_to_date(tmp_path: Path) -> None:
    # GIVEN a file written before term counts were kept per visibility class
    path = tmp_path / "s.sqlite3"
    store = SQLiteStore(path)
    store.write("pub", [doc("pub", 0, "vpn guide"), doc("pub", 1, "vpn more")], {"pub#0000": [1.0, 0.0]})
    store.write("hr", [doc("hr", text="vpn secret", scopes=["hr", "managers"])], {})
    store.close()
    _as_schema_1(path)
    # WHEN it is opened by this kotae (twice: the second finds the work done)
    SQLiteStore(path).close()
    again = SQLiteStore(path)
    # THEN its chunks are counted per class, and writes and deletes keep the counts
    vpn = match_expression([["vpn"]]).strip('"')
    assert again.term_frequencies([vpn]) == (3, {vpn: 3})
    assert again.term_frequencies([vpn], Filters(scopes=("public",))) == (2, {vpn: 2})
    assert again.term_frequencies([vpn], Filters(scopes=("managers",), kinds=("faq",))) == (1, {vpn: 1})
    again.delete("pub")
    assert again.term_frequencies([vpn], Filters(scopes=("public",))) == (0, {})
    assert [d.document.item_key for d in again.lexical_search("vpn", 5, Filters())] == ["hr"]
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (schema.SCHEMA_VERSION,)
        assert not db.execute("SELECT name FROM sqlite_master WHERE name = 'term_df'").fetchall()
    again.close()


def test_term_frequencies_count_only_the_classes_the_filters_allow(store: SQLiteStore) -> None:
    store.write("a", [doc("a", text="alpha", scopes=["public", "hr"])], {})
    store.write("b", [doc("b", text="alpha", scopes=["hr"], kind="note")], {})
    store.write("c", [doc("c", text="alpha beta", scopes=["eng"])], {})
    assert store.term_frequencies(["alpha", "beta"], Filters(scopes=("hr",))) == (2, {"alpha": 2})
    assert store.term_frequencies(["alpha"], Filters(scopes=("hr", "public"))) == (2, {"alpha": 2})
    assert store.term_frequencies(["alpha"], Filters(scopes=("hr",), kinds=("faq",))) == (1, {"alpha": 1})
    assert store.term_frequencies(["alpha"], Filters(scopes=())) == (0, {})
    assert store.term_frequencies(["beta"], Filters(kinds=("faq",))) == (2, {"beta": 1})
    # A rewrite into another scope moves the chunk's counts with it
    store.write("c", [doc("c", text="alpha beta", scopes=["hr"])], {})
    assert store.term_frequencies(["beta"], Filters(scopes=("eng",))) == (0, {})
    assert store.term_frequencies(["beta"], Filters(scopes=("hr",))) == (3, {"beta": 1})


def test_advance_version_keeps_the_chunks_and_refuses_older(store: SQLiteStore) -> None:
    store.write("a", [doc("a", text="kept")], {"a#0000": [1.0, 0.0]}, version="5")
    assert store.advance_version("a", "7")
    state = store.state("a")
    assert state is not None and state.version == "7" and state.documents["a#0000"].version == "7"
    assert state.has_vector == {"a#0000": True} and state.documents["a#0000"].text == "kept"
    assert not store.advance_version("a", "6") and not store.write("a", [doc("a")], {}, version="6")
    assert store.advance_version("a", None) and store.state("a").version == "7"  # type: ignore[union-attr]
    assert store.advance_version("gone", "3") and store.state("gone").deleted  # type: ignore[union-attr]


def test_a_backup_into_the_live_file_keeps_its_page_size(tmp_path: Path) -> None:
    # GIVEN a store file made with another page size than SQLite's default
    path = tmp_path / "s.sqlite3"
    store = SQLiteStore(path, page_size=8192)
    store.write("old", [doc("old")], {})
    # WHEN it is reindexed (a backup into a file in WAL mode needs equal page sizes)
    store.reindex(3, _fill_with("a"))
    # THEN it holds the new content, in pages of the same size
    assert list(store.item_keys()) == ["a"]
    store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA page_size").fetchone() == (8192,)
