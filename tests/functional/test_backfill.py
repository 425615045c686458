"""`kotae backfill` and `kotae reindex` against a moto knowledge table."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kotae.providers.sqlite_store import SQLiteStore
from tests.standins.streams import knowledge_table


@pytest.fixture
def table(monkeypatch):
    monkeypatch.setenv("KOTAE_AWS_REGION", "ap-northeast-1")
    monkeypatch.setenv("KOTAE_KNOWLEDGE_TABLE", "knowledge")
    with knowledge_table() as t:
        for i in range(37):
            t.put(
                {
                    "item_key": f"faq-{i}",
                    "kind": "faq",
                    "question": f"Question {i}?",
                    "answer": f"Answer {i}.",
                }
            )
        t.put({"item_key": "odd", "kind": "mystery", "n": Decimal("1E+100"), "tags": {"a", "b"}})
        yield t


def test_backfill_indexes_every_item_then_finds_nothing_to_do(run, table, tmp_path) -> None:
    code, out, _ = run("backfill", "--segments", "3")
    assert code == 0 and "38 indexed, 0 unchanged, 0 stale, 0 failed" in out
    code, out, _ = run("backfill")
    assert code == 0 and "0 indexed, 38 unchanged" in out
    store = SQLiteStore(tmp_path / "data" / "kotae.sqlite3")
    assert store.count() == 38 and "odd" in set(store.item_keys())


def test_backfill_keeps_stream_versions(run, table, tmp_path) -> None:
    # GIVEN an item indexed from the stream at sequence 500
    from kotae.app import Kotae
    from kotae.models import Item
    from kotae.settings import load_settings

    app = Kotae(load_settings())
    app.indexer.index(
        Item.from_mapping({"item_key": "faq-1", "kind": "faq", "question": "Old?", "answer": "Old."}),
        version="500",
    )
    app.close()
    # WHEN backfill rewrites it without a version
    run("backfill")
    # THEN the version is kept, so an older stream record is still refused
    store = SQLiteStore(tmp_path / "data" / "kotae.sqlite3")
    assert store.state("faq-1").version == "500"
    assert "Question 1?" in store.documents("faq-1")[0].text


def test_reindex_rebuilds_the_sqlite_file_in_one_switch(run, table, tmp_path) -> None:
    run("backfill")
    table.delete("faq-0")  # the table moved on; the rebuilt index must follow it
    code, out, _ = run("reindex")
    assert code == 0 and "rebuilt" in out
    store = SQLiteStore(tmp_path / "data" / "kotae.sqlite3")
    assert store.count() == 37 and "faq-0" not in set(store.item_keys())
    assert not list((tmp_path / "data").glob("*.reindex*"))


def test_missing_table_is_one_clear_error(run, monkeypatch) -> None:
    monkeypatch.setenv("KOTAE_AWS_REGION", "ap-northeast-1")
    with knowledge_table():
        code, _, err = run("backfill", "--table", "nope")
    assert code == 1 and "nope" in err and "Traceback" not in err


def test_reindex_with_failures_keeps_the_old_index(run, table, tmp_path, monkeypatch) -> None:
    run("backfill")
    from kotae.indexing import backfill as backfill_module

    real = backfill_module.Item.from_mapping

    def flaky(raw, **kwargs):
        if raw.get("item_key") == "faq-3":
            from kotae.errors import InvalidItem

            raise InvalidItem("broken on purpose")
        return real(raw, **kwargs)

    monkeypatch.setattr(backfill_module.Item, "from_mapping", staticmethod(flaky))
    table.delete("faq-0")
    code, _, err = run("reindex")
    assert code == 1 and "faq-3" in err and "unchanged" in " ".join(err.split())
    store = SQLiteStore(tmp_path / "data" / "kotae.sqlite3")
    assert store.count() == 38  # the old index is still the one in use


def test_backfill_reports_bad_items_and_indexes_the_rest(run, table, monkeypatch) -> None:
    from kotae.errors import ProviderError
    from kotae.indexing import backfill as backfill_module

    real = backfill_module.Indexer.index_many

    def failing(self, entries, **kwargs):
        if any(item.key == "faq-7" for item, _ in entries):
            raise ProviderError("embedding failed")
        return real(self, entries, **kwargs)

    monkeypatch.setattr(backfill_module.Indexer, "index_many", failing)
    code, out, err = run("backfill", "--segments", "1")
    assert code == 1 and "37 indexed" in out and "1 failed" in out and "faq-7" in err


def test_reindex_on_opensearch_fills_a_new_index_and_moves_the_alias(run, table, monkeypatch) -> None:
    from tests.standins.opensearch import OpenSearchStandIn

    with OpenSearchStandIn() as server:
        # GIVEN an OpenSearch index at 1024 dimensions filled by backfill (Titan via the stand-in)
        from tests.standins.bedrock import bedrock_standin

        with bedrock_standin() as bedrock:
            monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", bedrock.url)
            monkeypatch.setenv("KOTAE_EMBEDDER", "titan")
            monkeypatch.setenv("KOTAE_STORE", "opensearch")
            monkeypatch.setenv("KOTAE_OPENSEARCH_ENDPOINT", server.url)
            monkeypatch.setenv("KOTAE_OPENSEARCH_AUTH", "none")
            monkeypatch.setenv("KOTAE_OPENSEARCH_INDEX", "knowledge-alias")
            from kotae.app import Kotae
            from kotae.settings import load_settings

            Kotae(load_settings()).store.ensure_index()
            assert run("backfill")[0] == 0
            # WHEN the embedding size changes and the index is rebuilt
            monkeypatch.setenv("KOTAE_EMBEDDING_DIMENSIONS", "256")
            code, out, err = run("reindex")
        # THEN a new index holds every item and the alias moved to it in one request
        assert code == 0, err
        assert "knowledge-alias now points at knowledge-alias-v2" in out
        assert server.aliases["knowledge-alias"] == {"knowledge-alias-v2"}
        swap = [r for r in server.requests if r.path.startswith("/_aliases")][-1]
        assert swap.json() == {
            "actions": [
                {"remove": {"index": "knowledge-alias-v1", "alias": "knowledge-alias"}},
                {"add": {"index": "knowledge-alias-v2", "alias": "knowledge-alias"}},
            ]
        }
        assert len({d["item_key"] for d in server.docs("knowledge-alias-v2").values()}) == 38
