from __future__ import annotations

from kotae.indexing.indexer import Indexer
from kotae.indexing.render import DocumentRenderer
from kotae.models import Item
from tests.conftest import PROMPTS, faq
from tests.fakes import FakeEmbedder


def make(store, embedder=None, chunk_chars=800):
    return Indexer(DocumentRenderer(PROMPTS, chunk_chars=chunk_chars, chunk_overlap=10), store, embedder)


def test_unchanged_items_are_not_embedded_again(store) -> None:
    embedder = FakeEmbedder()
    indexer = make(store, embedder)
    item = faq("k", "Q?", "A.")
    assert indexer.index(item).outcome == "indexed"
    assert embedder.texts_embedded == 1
    # WHEN the same item arrives again THEN nothing is embedded or written
    result = indexer.index(item)
    assert (result.outcome, result.embedded) == ("unchanged", 0)
    assert embedder.texts_embedded == 1


def test_metadata_only_change_updates_without_embedding(store) -> None:
    embedder = FakeEmbedder()
    indexer = make(store, embedder)
    indexer.index(faq("k", "Q?", "A.", url="https://old"))
    result = indexer.index(faq("k", "Q?", "A.", url="https://new", scopes=["hr"]))
    assert (result.outcome, result.embedded) == ("indexed", 0)
    stored = store.documents("k")[0]
    assert (stored.url, stored.scopes) == ("https://new", ["hr"])
    assert store.state("k").has_vector == {"k#0000": True}


def test_changed_text_is_embedded_and_shrinking_drops_stale_chunks(store) -> None:
    embedder = FakeEmbedder()
    indexer = make(store, embedder, chunk_chars=100)
    long_answer = " ".join(f"Sentence number {i} about returns." for i in range(20))
    first = indexer.index(faq("k", "Returns?", long_answer))
    assert first.chunks > 3 and first.embedded == first.chunks
    second = indexer.index(faq("k", "Returns?", "Fourteen days."))
    assert (second.outcome, second.chunks, second.embedded) == ("indexed", 1, 1)
    assert list(store.state("k").documents) == ["k#0000"]


def test_store_without_vectors_gets_them_when_an_embedder_is_added(store) -> None:
    make(store, None).index(faq("k", "Q?", "A."))
    embedder = FakeEmbedder()
    result = make(store, embedder).index(faq("k", "Q?", "A."))
    assert (result.outcome, result.embedded) == ("indexed", 1)


def test_index_many_embeds_in_shared_batches(store) -> None:
    embedder = FakeEmbedder()
    items = [(faq(f"k{i}", f"Question {i}?", "Answer."), None) for i in range(10)]
    results = make(store, embedder).index_many(items, batch=4)
    assert [r.outcome for r in results] == ["indexed"] * 10
    assert [len(c) for c in embedder.calls] == [4, 4, 2]


def test_stale_versions_and_removal(store) -> None:
    indexer = make(store)
    assert indexer.index(faq("k", "Q?", "new"), version="20").outcome == "indexed"
    assert indexer.index(faq("k", "Q?", "old"), version="10").outcome == "stale"
    assert indexer.remove("k", version="15").outcome == "stale"
    assert indexer.remove("k", version="30").outcome == "deleted"
    assert store.count() == 0


def test_unknown_kind_is_indexed_not_dropped(store) -> None:
    item = Item.from_mapping({"pk": "x-1", "kind": "mystery", "payload": {"a": [1, 2]}})
    assert make(store).index(item).outcome == "indexed"
    assert "payload" in store.documents("x-1")[0].text
