"""The embedded store's lexical ranking: fields, character bigrams, synonyms, fusion, and the
move of a schema-3 file to separate fields."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from kotae.models import Document, Filters
from kotae.providers.sqlite_store import SQLiteStore, schema
from kotae.providers.sqlite_store.lexical import LexicalRanking, fuse, match_expression
from kotae.text import japanese_backend, tokenize

needs_mecab = pytest.mark.skipif(japanese_backend() != "mecab", reason="needs fugashi + unidic-lite")


def faq(key: str, title: str, text: str) -> Document:
    return Document(
        chunk_id=f"{key}#0000", item_key=key, kind="faq", title=title, text=text,
        scopes=["public"], content_hash=f"h-{key}",
    )  # fmt: skip


def keys(store: SQLiteStore, query: str) -> list[str]:
    return [hit.document.item_key for hit in store.lexical_search(query, 5, Filters())]


@pytest.mark.parametrize(
    ("phrases", "expected"),
    [
        pytest.param([['he"llo'], ["near"], ["near"]], '"he""llo" OR "near"', id="quoted-and-distinct"),
        pytest.param([["送付", "先"], ["宛先"]], '"送付" + "先" OR "宛先"', id="phrase"),
        pytest.param([[""], []], "", id="nothing"),
    ],
)
def test_match_expression(phrases: list[list[str]], expected: str) -> None:
    assert match_expression(phrases) == expected


def test_a_title_match_outranks_a_body_match(store: SQLiteStore) -> None:
    # GIVEN two entries of one length, the word in the title of one and the body of the other
    store.write("body", [faq("body", "office hours", "where to park your bicycle near the office")], {})
    store.write("title", [faq("title", "bicycle parking", "where to leave it near the office hours")], {})
    # THEN the title match ranks first; with equal weights the order is the other way round
    assert keys(store, "bicycle") == ["title", "body"]
    flat = SQLiteStore(store.path, ranking=LexicalRanking(title_weight=1.0, body_weight=3.0))
    assert keys(flat, "bicycle") == ["body", "title"]
    flat.close()


@needs_mecab
def test_a_word_mecab_splits_badly_is_found_by_its_bigrams(tmp_path: Path) -> None:
    # GIVEN an entry about ハピネスパスポート (MeCab: ハピネス + パスポート) and another entry
    store = SQLiteStore(tmp_path / "s.sqlite3")
    store.write("pass", [faq("pass", "ハピネスパスポートの申請", "市役所で受け付けます")], {})
    store.write("other", [faq("other", "住民票の写し", "窓口で申請します")], {})
    # WHEN asked by its nickname ハピパス (MeCab: ハピ + パス): no word of it is in the entry
    assert not set(tokenize("ハピパス")) & set(tokenize("ハピネスパスポートの申請"))
    # THEN the bigram index finds it; the word index alone finds nothing
    assert keys(store, "ハピパス") == ["pass"]
    store.close()
    words_only = SQLiteStore(tmp_path / "s.sqlite3", ranking=LexicalRanking(grams=False, synonyms=False))
    assert keys(words_only, "ハピパス") == []
    words_only.close()


@needs_mecab
def test_a_synonym_finds_the_entry_below_an_exact_match(store: SQLiteStore) -> None:
    # GIVEN entries of one shape, one naming メニュー, one 献立 (Sudachi synonyms), one neither
    store.write("exact", [faq("exact", "給食のメニュー", "毎月配ります")], {})
    store.write("synonym", [faq("synonym", "給食の献立", "毎月配ります")], {})
    store.write("other", [faq("other", "給食の費用", "毎月払います")], {})
    no_grams = SQLiteStore(store.path, ranking=LexicalRanking(grams=False))
    # WHEN asked about メニュー THEN the synonym entry is found, below the exact one
    found = no_grams.lexical_search("メニュー", 5, Filters())
    assert [h.document.item_key for h in found] == ["exact", "synonym"]
    assert found[1].score < found[0].score
    # AND without expansion it is not found
    plain = SQLiteStore(store.path, ranking=LexicalRanking(grams=False, synonyms=False))
    assert keys(plain, "メニュー") == ["exact"]
    plain.close()
    no_grams.close()


@pytest.mark.parametrize(
    ("fusion", "expected"),
    [
        # scores over each list's best: 0.7 * 1.0 = 0.7 for 1; 0.7 * 0.5 + 0.3 * 1.0 = 0.65 for 2
        pytest.param("score", [(1, 0.7), (2, 0.65), (3, 0.15)], id="normalized-scores"),
        # ranks: 2 is second among words and first among grams, 1 first among words only
        pytest.param("rrf", [(2, 0.5 / 62 + 0.5 / 61), (1, 0.5 / 61), (3, 0.5 / 62)], id="reciprocal-rank"),
    ],
)
def test_fusion(fusion: str, expected: list[tuple[int, float]]) -> None:
    weight = 0.3 if fusion == "score" else 0.5
    ranking = LexicalRanking(fusion=fusion, gram_weight=weight)  # type: ignore[arg-type]
    fused = fuse({1: 10.0, 2: 5.0}, {2: 4.0, 3: 2.0}, ranking)
    assert [row for row, _ in fused] == [row for row, _ in expected]
    assert [score for _, score in fused] == pytest.approx([score for _, score in expected])


def test_without_grams_the_word_order_stands() -> None:
    assert fuse({1: 1.0, 2: 3.0}, {}, LexicalRanking()) == [(2, 3.0), (1, 1.0)]


def _as_schema_3(path: Path) -> None:
    """Turn a closed store file back into schema 3: one FTS column of title and text tokens, no
    bigrams, term counts of the tokens schema 3 made (particles included)."""
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE fts")
        db.execute("CREATE VIRTUAL TABLE fts USING fts5(tokens)")
        db.execute("DELETE FROM grams")
        db.execute("INSERT INTO fts (rowid, tokens) SELECT id, 'stale の tokens' FROM chunks")
        db.execute("UPDATE class_df SET df = df + 7")
        db.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")


@needs_mecab
def test_a_schema_3_file_is_indexed_again_by_field(tmp_path: Path) -> None:
    # GIVEN a schema-3 file
    path = tmp_path / "s.sqlite3"
    store = SQLiteStore(path)
    store.write("pass", [faq("pass", "ハピネスパスポートの申請", "市役所で受け付けます")], {})
    store.write("bus", [faq("bus", "市バスの運賃", "大人は230円です")], {})
    before = store.term_frequencies(["市", "申請", "バス"])
    store.close()
    _as_schema_3(path)
    # WHEN this kotae opens it (twice: the second finds the work done)
    SQLiteStore(path).close()
    again = SQLiteStore(path)
    # THEN its chunks are indexed by field and by bigram from the stored documents
    assert keys(again, "ハピパス") == ["pass"] and keys(again, "バス") == ["bus"]
    assert keys(again, "stale") == []
    # AND the term counts are those of the tokens now made, as before the move
    assert again.term_frequencies(["市", "申請", "バス"]) == before == (2, {"市": 2, "申請": 1, "バス": 1})
    again.delete("bus")
    assert again.term_frequencies(["バス"]) == (1, {})
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (
            schema.SCHEMA_VERSION,
        )
    again.close()


def _gram_counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        return dict(db.execute("SELECT term, df FROM gram_df WHERE df != 0"))


def test_bigram_counts_follow_rewrites_and_deletes(store: SQLiteStore) -> None:
    store.write("a", [faq("a", "市バス", "運賃")], {})
    store.write("b", [faq("b", "バス停", "english only text")], {})
    assert _gram_counts(store.path) == {"市バ": 1, "バス": 2, "運賃": 1, "ス停": 1}
    store.write("a", [faq("a", "市バス", "定期券")], {})  # rewritten: its old grams leave
    assert _gram_counts(store.path) == {"市バ": 1, "バス": 2, "定期": 1, "期券": 1, "ス停": 1}
    store.delete("a")
    store.delete("b")
    assert _gram_counts(store.path) == {}


def test_the_bigram_query_keeps_its_rarest_grams(store: SQLiteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a budget of one gram, and a query whose bigrams are バス (in 3 entries) and ス停 (in 1)
    from kotae.providers.sqlite_store import lexical

    monkeypatch.setattr(lexical, "MAX_GRAMS", 1)
    for key in ("x", "y"):
        store.write(key, [faq(key, "バス", "路線")], {})
    store.write("stop", [faq("stop", "バス停の場所", "駅前")], {})
    # THEN only the rarest gram found is matched (a gram no entry holds is not "the rarest")
    db = sqlite3.connect(store.path)
    assert lexical._gram_terms(db, ["バス", "ス停", "不在"]) == ["ス停"]
    assert lexical._gram_terms(db, ["不在"]) == [] and lexical._gram_terms(db, []) == []
    db.close()
    assert keys(store, "バス停")[0] == "stop"
