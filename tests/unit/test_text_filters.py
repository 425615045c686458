"""kotae.text: the Japanese content-word filters, character n-grams and synonym expansion."""

from __future__ import annotations

import pytest

from kotae.text import japanese_backend, tokenize
from kotae.text.ngrams import char_ngrams
from kotae.text.synonym_build import groups
from kotae.text.synonyms import SynonymTable, japanese_synonyms

needs_mecab = pytest.mark.skipif(
    japanese_backend() != "mecab", reason="needs fugashi + unidic-lite (extra 'embedded')"
)


@needs_mecab
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the particles, auxiliaries and symbols go; so do the fillers やる (遣る) and 幾ら stays
        pytest.param("市バスっていくらやったっけ？", ["市", "バス", "幾ら"], id="colloquial-question"),
        # 教える, 下さる (ください) and the suffix 方 are fillers
        pytest.param("粗大ごみの出し方を教えてください", ["粗大", "塵", "出す"], id="request"),
        # 場合, どう, 為る (すれ), 良い (いい) are fillers
        pytest.param("カードを作りたい場合はどうすればいいですか", ["カード", "作る"], id="how-to"),
        # pronouns, adnominals, conjunctions and interjections are dropped by part of speech
        pytest.param("ええと、でもこの書類は私のです", ["書類"], id="closed-classes"),
    ],
)
def test_only_content_words_are_tokens(text: str, expected: list[str]) -> None:
    assert tokenize(text) == expected


@needs_mecab
@pytest.mark.parametrize(
    ("one", "other"),
    [
        pytest.param("わかる", "分かる", id="kana-and-kanji"),
        pytest.param("ごみ", "ゴミ", id="hiragana-and-katakana"),
        pytest.param("ﾊﾞｽ", "バス", id="half-width"),
    ],
)
def test_spellings_of_one_word_are_one_token(one: str, other: str) -> None:
    assert tokenize(f"図書館 {one}")[1:] == tokenize(f"図書館 {other}")[1:]


@needs_mecab
def test_a_loanword_loses_its_gloss() -> None:
    # UniDic's lemma of バス is "バス-bus": the gloss is not part of the token
    assert tokenize("バス") == ["バス"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("市バス", ["市バ", "バス"], id="bigrams"),
        pytest.param("市", ["市"], id="one-char-run-whole"),
        pytest.param("VPNの設定", ["の設", "設定"], id="latin-left-out"),
        pytest.param("ﾏｲﾅ", ["マイ", "イナ"], id="nfkc"),
        pytest.param("hello world", [], id="english-has-none"),
        pytest.param("", [], id="empty"),
    ],
)
def test_char_ngrams(text: str, expected: list[str]) -> None:
    assert char_ngrams(text) == expected


TABLE = SynonymTable.parse(
    "# a comment line\n\n献立\tメニュー\tメニュー 表\t~品書き\n~オープン\t開店\n市\t都市\n"
)


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        pytest.param(["メニュー"], [("献立",), ("メニュー", "表"), ("品書き",)], id="one-token-trigger"),
        pytest.param(["メニュー", "表"], [("献立",), ("品書き",)], id="multi-token-trigger"),
        pytest.param(["品書き"], [], id="ambiguous-entry-never-triggers"),
        pytest.param(["開店"], [("オープン",)], id="ambiguous-entry-is-reached"),
        pytest.param(["市"], [], id="one-character-entry-never-triggers"),
        pytest.param(["献立", "メニュー"], [("メニュー", "表"), ("品書き",)], id="own-words-not-repeated"),
        pytest.param([], [], id="no-tokens"),
    ],
)
def test_expansion(tokens: list[str], expected: list[tuple[str, ...]]) -> None:
    assert TABLE.expand(tokens) == expected


def test_expansion_is_bounded() -> None:
    assert TABLE.expand(["メニュー"], limit=1) == [("献立",)]


@needs_mecab
def test_the_shipped_table_holds_sudachi_groups() -> None:
    # GIVEN the table shipped in kotae/text/data (read once)
    table = japanese_synonyms()
    assert table is japanese_synonyms() and len(table.groups) > 20_000
    # THEN a common word reaches its synonyms, in the tokens the tokenizer makes
    assert ("献立",) in table.expand(tokenize("メニュー"))


@needs_mecab
def test_the_builder_keeps_sudachi_flags_and_drops_what_cannot_be_used() -> None:
    source = [
        {"items": [
            {"midashi": "メニュー", "expandControl": 0},
            {"midashi": "献立", "expandControl": 1},
            {"midashi": "品書き", "expandControl": 2},
            {"midashi": "不明確", "expandControl": 0},
            {"midashi": "めにゅー", "expandControl": 0},
        ]},
        {"items": [{"midashi": "する", "expandControl": 0}, {"midashi": "行う", "expandControl": 0}]},
        {"items": [{"midashi": "曖昧", "expandControl": 1}, {"midashi": "あやふや", "expandControl": 1}]},
    ]  # fmt: skip
    # flag 2 and a prefixed word are left out, めにゅー has メニュー's lemma and is merged into
    # it; する is a filler, so its group has one entry left; a group of ambiguous words only
    # could never be reached
    assert list(groups(source)) == [["メニュー", "~献立"]]
