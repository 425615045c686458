"""What a reader can trust of a store that other processes write (the store review's holes).

Two store instances on one file (or one OpenSearch stand-in) are two processes: each has its
own connection, caches and locks. Each test names the hole it closes; the interleaved property
test over both stores is in test_store_interleaving.py.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from opensearchpy import OpenSearch, RequestsHttpConnection

from kotae.answer.retrieval import Retriever
from kotae.errors import StoreCorrupt, StoreError
from kotae.indexing.indexer import Indexer
from kotae.indexing.render import DocumentRenderer
from kotae.models import Filters, Item
from kotae.providers.base import Store
from kotae.providers.opensearch_client import redacted
from kotae.providers.opensearch_store import OpenSearchStore
from kotae.providers.sqlite_store import SQLiteStore
from kotae.providers.sqlite_store import lexical as lexical_module
from tests.conftest import PROMPTS
from tests.fakes import FakeEmbedder
from tests.fakes import make_doc as doc
from tests.standins.opensearch import OpenSearchStandIn

ALIAS = "kotae-trust"
PUBLIC = Filters(scopes=("public",))
V = [1.0, 0.0, 0.0, 0.0]


def keys(found) -> list[str]:
    return sorted(hit.document.item_key for hit in found)


def os_client(server: OpenSearchStandIn) -> OpenSearch:
    return OpenSearch(hosts=[server.url], connection_class=RequestsHttpConnection, max_retries=0, timeout=5)


def os_store(server: OpenSearchStandIn) -> OpenSearchStore:
    store = OpenSearchStore(
        os_client(server), ALIAS, 4, custom_ids=not server.generated_ids, sleep=lambda _: None
    )
    store.ensure_index()
    return store


# -- A: a reader in another process sees what was last committed ---------------------------------
@pytest.fixture
def two(tmp_path: Path) -> Iterator[tuple[SQLiteStore, SQLiteStore]]:
    """GIVEN a writer and a long-running reader (`kotae slack`) on one store file."""
    writer, reader = SQLiteStore(tmp_path / "s.sqlite3"), SQLiteStore(tmp_path / "s.sqlite3")
    yield writer, reader
    reader.close()
    writer.close()


def test_a_scope_narrowed_by_another_process_is_not_served(two) -> None:
    writer, reader = two
    writer.write("a", [doc("a", text="salary bands")], {"a#0000": V})
    assert keys(reader.vector_search(V, 5, PUBLIC)) == ["a"]  # the reader has loaded its matrix
    # WHEN another process narrows the item to hr
    writer.write("a", [doc("a", text="salary bands", scopes=["hr"])], {})
    # THEN neither retriever serves it as public (the dense one did, from its cached masks)
    assert reader.vector_search(V, 5, PUBLIC) == []
    assert reader.lexical_search("salary", 5, PUBLIC) == []
    assert keys(reader.vector_search(V, 5, Filters(scopes=("hr",)))) == ["a"]


def test_deletions_and_new_items_of_another_process_reach_dense_search(two) -> None:
    writer, reader = two
    writer.write("a", [doc("a")], {"a#0000": V})
    writer.write("b", [doc("b")], {"b#0000": [0.9, 0.1, 0.0, 0.0]})
    assert keys(reader.vector_search(V, 5, PUBLIC)) == ["a", "b"]
    # WHEN another process deletes one item and adds another
    writer.delete("a")
    writer.write("c", [doc("c")], {"c#0000": [0.8, 0.2, 0.0, 0.0]})
    # THEN dense search neither raises (it raised KeyError) nor misses the new item
    assert keys(reader.vector_search(V, 5, PUBLIC)) == ["b", "c"]


def test_a_reindex_by_another_process_is_seen_by_a_running_reader(two) -> None:
    writer, reader = two
    writer.write("old", [doc("old", text="old words")], {"old#0000": V})
    assert keys(reader.lexical_search("old", 5, PUBLIC)) == ["old"]

    def fill(target: Store) -> None:
        target.write("new", [doc("new", text="new words")], {"new#0000": [1.0, 0.0, 0.0]})

    # WHEN `kotae reindex` rebuilds the store in another process, with 3-dimension vectors
    writer.reindex(3, fill)
    # THEN the running reader reads the rebuilt store (it stayed on the old file)
    assert reader.lexical_search("old", 5, PUBLIC) == []
    assert keys(reader.lexical_search("new", 5, PUBLIC)) == ["new"]
    assert keys(reader.vector_search([1.0, 0.0, 0.0], 5, PUBLIC)) == ["new"]


def test_a_file_put_in_the_stores_place_is_followed(tmp_path: Path, two) -> None:
    writer, reader = two
    writer.write("old", [doc("old", text="old words")], {})
    assert keys(reader.lexical_search("old", 5, PUBLIC)) == ["old"]
    other = SQLiteStore(tmp_path / "other.sqlite3")
    other.write("other", [doc("other", text="other words")], {})
    other.close()
    # WHEN an operator moves another store file into its place (and the old side files away)
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"s.sqlite3{suffix}").unlink(missing_ok=True)
    os.replace(tmp_path / "other.sqlite3", tmp_path / "s.sqlite3")
    # THEN the reader reads the file now at the path
    assert keys(reader.lexical_search("words", 5, PUBLIC)) == ["other"]


def test_removing_the_store_during_an_ingest_is_an_error(tmp_path: Path, two) -> None:
    writer, reader = two
    writer.write("a", [doc("a")], {})
    # WHEN the store file is deleted while the ingest goes on
    for name in ("s.sqlite3", "s.sqlite3-wal", "s.sqlite3-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    # THEN the next write fails (it was reported as written, into a file no one will read), and so
    # do reads
    with pytest.raises(StoreError, match="was removed"):
        writer.write("b", [doc("b")], {})
    with pytest.raises(StoreError, match="was removed"):
        reader.lexical_search("hello", 5, PUBLIC)


# -- B: OpenSearch never serves a copy of an older write -----------------------------------------
def _fail_the_delete_phase(server: OpenSearchStandIn, ids: list[str]) -> None:
    """The write's next two bulk requests: the first (the new documents) goes through, the second
    (deleting the old documents) fails for those ids, as a delete that has not landed yet."""
    server.fail(items={"-": (503, "unavailable_shards_exception")})
    server.fail(items={i: (500, "internal_server_error") for i in ids})


@pytest.mark.parametrize("generated_ids", [pytest.param(True, id="serverless"), pytest.param(False, id="custom-ids")])
def test_an_old_public_copy_is_not_served_once_the_item_is_narrowed(generated_ids: bool) -> None:
    with OpenSearchStandIn(generated_ids=generated_ids) as server:
        writer, reader = os_store(server), os_store(server)
        # GIVEN a public item of two chunks
        writer.write("a", [doc("a", 0, "salary bands"), doc("a", 1, "salary table")], {"a#0000": V, "a#0001": V})
        old = list(server.docs(ALIAS))
        # WHEN it is narrowed to hr and shrinks to one chunk, and the old documents' delete does
        # not land
        _fail_the_delete_phase(server, old)
        with pytest.raises(StoreError):
            writer.write("a", [doc("a", 0, "salary bands", scopes=["hr"])], {}, version="2")
        assert len(server.docs(ALIAS)) == (3 if generated_ids else 2)  # old copies are still there
        # THEN no read serves an old copy as public, and hr sees the newest version only
        assert reader.lexical_search("salary", 5, PUBLIC) == []
        assert reader.vector_search(V, 5, PUBLIC) == []
        hr = reader.lexical_search("salary", 5, Filters(scopes=("hr",)))
        assert [h.document.chunk_id for h in hr] == ["a#0000"]
        state = reader.state("a")
        assert state is not None and list(state.documents) == ["a#0000"] and state.version == "2"
        # AND the item's next write removes the old copies
        assert writer.write("a", [doc("a", 0, "salary bands", scopes=["hr"])], {}, version="3")
        assert len(server.docs(ALIAS)) == 1


def test_an_old_copy_of_a_deleted_item_is_not_served() -> None:
    with OpenSearchStandIn(generated_ids=True) as server:
        writer, reader = os_store(server), os_store(server)
        writer.write("a", [doc("a", text="salary bands")], {"a#0000": V})
        _fail_the_delete_phase(server, list(server.docs(ALIAS)))
        with pytest.raises(StoreError):
            writer.delete("a", version="2")
        assert reader.lexical_search("salary", 5, PUBLIC) == [] and reader.vector_search(V, 5, PUBLIC) == []
        assert reader.state("a").deleted  # type: ignore[union-attr]


# -- D: smaller holes ----------------------------------------------------------------------------
def _corrupt(path: Path) -> None:
    """Overwrite the data pages of a closed store, leaving the header and the tables' root pages."""
    data = bytearray(path.read_bytes())
    for page in range(20, len(data) // 4096 - 1):
        data[page * 4096 + 8 : page * 4096 + 4000] = b"\xa5" * (4000 - 8)
    path.write_bytes(bytes(data))


def test_corrupt_pages_are_store_errors_never_raw_sqlite_errors(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = SQLiteStore(path)
    for i in range(300):
        store.write(f"k{i}", [doc(f"k{i}", text=f"shipping word{i} " * 20)], {f"k{i}#0000": [1.0, float(i), 0, 0]})
    store.close()
    _corrupt(path)
    damaged = SQLiteStore(path)
    reads = {
        "lexical": lambda: damaged.lexical_search("shipping", 5, PUBLIC),
        "vector": lambda: damaged.vector_search(V, 5, PUBLIC),
        "documents": lambda: [damaged.documents(f"k{i}") for i in range(300)],
        "state": lambda: [damaged.state(f"k{i}") for i in range(300)],
        "write": lambda: [damaged.write(f"k{i}", [doc(f"k{i}", text="new")], {}) for i in range(300)],
        "delete": lambda: [damaged.delete(f"k{i}") for i in range(300)],
    }
    for name, read in reads.items():
        with pytest.raises(StoreCorrupt, match="is damaged.*move it away"):
            read()
            pytest.fail(f"{name} read the damaged file without noticing")


def test_a_closed_connection_is_a_store_error(store: SQLiteStore) -> None:
    store.close()
    with pytest.raises(StoreError, match="lexical search failed"):
        store.lexical_search("hello", 5, PUBLIC)
    assert not isinstance(StoreError(), sqlite3.Error)


def test_an_unknown_word_does_not_wipe_out_lexical_results(store: SQLiteStore, monkeypatch) -> None:
    # GIVEN a store "large" for the postings budget: its one query word is in more chunks than that
    monkeypatch.setattr(lexical_module, "MAX_POSTINGS", 5)
    for i in range(10):
        store.write(f"k{i}", [doc(f"k{i}", text=f"shipping policy {i}")], {})
    # WHEN a query adds a word no chunk holds
    found = store.lexical_search("shipping xyzzyunknown", 3, PUBLIC)
    # THEN the word that exists still matches (the unknown one was kept as "the rarest", alone)
    assert len(found) == 3 and all("shipping" in hit.document.text for hit in found)
    assert store.lexical_search("xyzzyunknown", 3, PUBLIC) == []


def test_a_chunk_that_does_not_parse_is_store_corrupt(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite3")
    store.write("a", [doc("a", text=SECRET)], {})
    with sqlite3.connect(tmp_path / "s.sqlite3") as raw:
        raw.execute("UPDATE chunks SET doc = json_set(doc, '$.chunk_index', 'not a number')")
    with pytest.raises(StoreCorrupt, match="does not parse") as caught:
        store.state("a")
    assert SECRET not in str(caught.value)
    store.close()


@pytest.fixture(params=["sqlite", "opensearch"])
def any_store(request, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        store = SQLiteStore(tmp_path / "s.sqlite3")
        yield store
        store.close()
        return
    with OpenSearchStandIn() as server:
        yield os_store(server)


def test_term_statistics_do_not_reveal_words_of_hidden_items(any_store: Store) -> None:
    # GIVEN public guides and one hidden hr chunk holding a word no public chunk holds
    for i in range(4):
        any_store.write(f"p{i}", [doc(f"p{i}", text=f"office guide {i}")], {})
    any_store.write("h", [doc("h", text="office layoffs planned", scopes=["hr"])], {})
    retriever = Retriever(any_store, None, mode="lexical")
    # WHEN a public asker's hit is graded for a query with the hidden word, and with a made-up one
    hidden = retriever.search("office layoffs", 1, PUBLIC)[0].relevance
    made_up = retriever.search("office qwertzuiop", 1, PUBLIC)[0].relevance
    # THEN the grades are the same: IDF counts only what the asker may see
    assert hidden == made_up
    assert any_store.term_frequencies(["layoff"], PUBLIC) == (4, {})
    assert any_store.term_frequencies(["layoff"], Filters(scopes=("hr",))) == (1, {"layoff": 1})


def test_an_unchanged_modify_advances_the_version(any_store: Store) -> None:
    indexer = Indexer(DocumentRenderer(PROMPTS), any_store, FakeEmbedder(4))
    item = Item.from_mapping({"key": "a", "kind": "faq", "question": "VPN?", "answer": "Use GP."})
    assert indexer.index(item, version="5").outcome == "indexed"
    # WHEN a newer record renders to the same chunks
    assert indexer.index(item, version="7").outcome == "unchanged"
    assert any_store.state("a").version == "7"  # type: ignore[union-attr]
    # THEN a late record older than it is refused (it was accepted: the store still said 5)
    older = Item.from_mapping({"key": "a", "kind": "faq", "question": "VPN?", "answer": "Old text."})
    assert indexer.index(older, version="6").outcome == "stale"
    assert "GP" in any_store.state("a").documents["a#0000"].text  # type: ignore[union-attr]


SECRET = "salary of Jane: 123456"


def test_opensearch_errors_carry_no_field_values() -> None:
    with OpenSearchStandIn() as server:
        store = os_store(server)
        preview = (
            "failed to parse field [chunk_index] of type [integer] in document with id 'a#0000'. "
            f"Preview of field's value: '{SECRET}'"
        )
        server.fail(items={"a#0000": (400, "mapper_parsing_exception", preview)})
        with pytest.raises(StoreError) as bulk_error:
            store.write("a", [doc("a", text=SECRET)], {"a#0000": V})
        server.fail(path="/_search", status=400, kind="illegal_argument_exception", reason=f"bad value [{SECRET}]")
        with pytest.raises(StoreError) as search_error:
            store.lexical_search("vpn", 5, PUBLIC)
    for error in (bulk_error.value, search_error.value):
        assert "123456" not in str(error) and error.__cause__ is None
    assert "mapper_parsing_exception: failed to parse field [chunk_index] of type [integer]" in str(bulk_error.value)
    assert "illegal_argument_exception" in str(search_error.value)


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        pytest.param(
            "failed to parse field [scopes] of type [keyword] in document with id 'x'. Preview of field's value: 's'",
            "failed to parse field [scopes] of type [keyword] in document with id '…'",
            id="mapper-preview",
        ),
        pytest.param(
            "Failed to parse value [secret] as only [true] or [false] are allowed.",
            "Failed to parse value […] as only […] or […] are allowed",
            id="boolean-value",
        ),
        pytest.param(
            'Document contains at least one immense term in field="text" (whose UTF8 encoding is longer '
            "than the max length 32766), all of which were skipped. The prefix of the first immense term "
            "is: '[115, 101]...', original message: bytes can be at most 32766",
            "Document contains at least one immense term in field='…' (whose UTF8 encoding is longer than "
            "the max length 32766), all of which were skipped",
            id="immense-term",
        ),
        pytest.param("no such index [kotae-v1]", "no such index [kotae-v1]", id="index-name-kept"),
        pytest.param('For input string: "4x"', "For input string: '…'", id="quoted"),
    ],
)
def test_reasons_are_redacted_of_values(reason: str, expected: str) -> None:
    assert redacted(reason) == expected
