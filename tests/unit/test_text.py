"""kotae.text: language detection, lexical tokenization and chunking."""

from __future__ import annotations

import itertools
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kotae.text.tokenizers
from kotae.text import chunk_text, detect_language, japanese_backend, tokenize

needs_mecab = pytest.mark.skipif(
    japanese_backend() != "mecab", reason="needs fugashi + unidic-lite (extra 'embedded')"
)


@pytest.fixture
def no_mecab(monkeypatch: pytest.MonkeyPatch) -> None:
    # _tagger is lru_cached: replace the module attribute, not the cache.
    monkeypatch.setattr(kotae.text.tokenizers, "_tagger", lambda: None)


# --- detect_language -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("VPNに接続できません", "ja", id="japanese"),
        pytest.param("How do I reset my password?", "en", id="english"),
        pytest.param("", "en", id="empty"),
        pytest.param("123 !! ??", "en", id="no-letters"),
        # letters "hello日本": 2 of 7 are Japanese, 0.29 >= 0.2
        pytest.param("hello 日本", "ja", id="mixed-kanji-above-threshold"),
        # 1 of 5 letters is Japanese: exactly the 0.2 threshold
        pytest.param("abcd日", "ja", id="threshold-exact"),
        # 1 of 6: below the threshold and no kana
        pytest.param("abcde日", "en", id="threshold-below"),
        # 2 kanji of 25 letters, no kana: still English
        pytest.param("東京 is the capital city of Japan", "en", id="few-kanji-in-english"),
        # a single kana is unambiguous, whatever the ratio
        pytest.param("Please reset the password for my VPN account ね", "ja", id="one-kana"),
        # full-width Latin letters are not Japanese script
        pytest.param("ＶＰＮ", "en", id="fullwidth-latin"),
        pytest.param("ｶﾀｶﾅ", "ja", id="halfwidth-katakana"),
    ],
)
def test_detect_language(text: str, expected: str) -> None:
    assert detect_language(text) == expected


# --- tokenize: English ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "The policies are running quickly", ["polici", "run", "quick"], id="stems-and-stopwords"
        ),
        pytest.param("HELLO World", ["hello", "world"], id="lower-case"),
        pytest.param("this is it", [], id="only-stopwords"),
        pytest.param("", [], id="empty"),
        pytest.param("ＶＰＮ", ["vpn"], id="nfkc-fullwidth"),
        pytest.param("１２３ ｅｒｒｏｒ", ["123", "error"], id="nfkc-fullwidth-digits"),
        pytest.param("snake_case-word", ["snake", "case", "word"], id="underscore-and-dash-split"),
        pytest.param("error 404, retry!", ["error", "404", "retri"], id="digits-kept-punctuation-dropped"),
    ],
)
def test_tokenize_english(text: str, expected: list[str]) -> None:
    assert tokenize(text) == expected


# --- tokenize: Japanese with MeCab ------------------------------------------------------------


def test_japanese_backend_is_mecab_when_installed() -> None:
    pytest.importorskip("fugashi")
    pytest.importorskip("unidic_lite")
    assert japanese_backend() == "mecab"


@needs_mecab
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # に (particle) and ませ/ん (auxiliaries) dropped; でき -> 出来る, a filler (ja_filler.txt)
        pytest.param("VPNに接続できません", ["vpn", "接続"], id="particles-auxiliaries-dropped"),
        # 教える and ください (下さる) are fillers
        pytest.param("VPNの設定方法を教えてください", ["vpn", "設定", "方法"], id="base-forms"),
        # どこ is a pronoun, します a filler (為る)
        pytest.param("経費精算はどこで申請しますか？", ["経費", "精算", "申請"], id="question"),
        pytest.param("私は学生です", ["学生"], id="copula-and-pronoun-dropped"),
        # tokens are UniDic lemmas: katakana カタカナ is the word 片仮名
        pytest.param("ｶﾀｶﾅ", ["片仮名"], id="nfkc-halfwidth-katakana"),
    ],
)
def test_tokenize_japanese_mecab(text: str, expected: list[str]) -> None:
    assert tokenize(text) == expected


@needs_mecab
def test_tokenize_japanese_has_no_particles() -> None:
    tokens = tokenize("パスワードをリセットしたいのですが、どうすればいいですか")
    for particle in ("を", "の", "が", "ば", "です", "た", "、"):
        assert particle not in tokens
    assert "パスワード" in tokens
    assert "リセット" in tokens


@needs_mecab
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Latin words inside Japanese text are lower-cased, stemmed, and stop words dropped.
        pytest.param("the VPNの設定 policies", ["vpn", "設定", "polici"], id="stopword-and-stem"),
        pytest.param("Running jobsが失敗しました", ["run", "job", "失敗"], id="stems"),
        pytest.param("ＶＰＮに繋がらない", ["vpn", "繋がる"], id="fullwidth-latin"),
        pytest.param("Slackで共有", ["slack", "共有"], id="product-name"),
    ],
)
def test_tokenize_latin_inside_japanese(text: str, expected: list[str]) -> None:
    assert tokenize(text) == expected


# --- tokenize: bigram fallback ----------------------------------------------------------------


def test_japanese_backend_bigram_without_mecab(no_mecab: None) -> None:
    assert japanese_backend() == "bigram"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the Japanese run に接続できません (8 chars) gives 7 overlapping bigrams
        pytest.param(
            "VPNに接続できません",
            ["vpn", "に接", "接続", "続で", "でき", "きま", "ませ", "せん"],
            id="latin-then-run",
        ),
        pytest.param("あ", ["あ"], id="single-char-run"),
        pytest.param("東京 office 大阪", ["東京", "offic", "大阪"], id="latin-between-runs"),
        pytest.param("the VPN設定", ["vpn", "設定"], id="stopword-before-run"),
        pytest.param("ＶＰＮ設定", ["vpn", "設定"], id="nfkc"),
        pytest.param("東京都", ["東京", "京都"], id="three-chars"),
    ],
)
def test_tokenize_bigram_fallback(no_mecab: None, text: str, expected: list[str]) -> None:
    assert tokenize(text) == expected


def test_tokenize_english_unaffected_by_missing_mecab(no_mecab: None) -> None:
    assert tokenize("The policies are running") == ["polici", "run"]


def test_c_stemmer_agrees_with_pure_python_snowball() -> None:
    # GIVEN the stemmer the tokenizer uses (PyStemmer's C build, a dependency of 'embedded') and
    # snowballstemmer's own Python port of the same algorithm
    import Stemmer
    from snowballstemmer.english_stemmer import EnglishStemmer

    words = sorted(
        set(" ".join(kotae.text.tokenizers.EN_STOPWORDS).split())
        | {"policies", "running", "connection", "generously", "reimbursement", "hopeful", "agreed"}
        | {"".join(p) for p in itertools.product("aeiouy", "lmnrst", "ies", "ly", "ing")}
    )
    stem = kotae.text.tokenizers._stemmer()
    # THEN the C build is in use, and an index built with either reads the same with the other
    assert isinstance(snowball_impl(), Stemmer.Stemmer)
    python = EnglishStemmer()
    assert [stem(w) for w in words] == [python.stemWord(w) for w in words]


def snowball_impl() -> object:
    import snowballstemmer

    return snowballstemmer.stemmer("english")


# --- word lists -------------------------------------------------------------------------------


def test_word_lists_are_data_files_loaded_once() -> None:
    # GIVEN the stop-word file shipped in the package
    from importlib.resources import files

    lines = files("kotae.text").joinpath("data", "en_stopwords.txt").read_text(encoding="utf-8").splitlines()
    # THEN the tokenizer's list is exactly its entries, comments left out
    stop_words = kotae.text.tokenizers.EN_STOPWORDS
    assert stop_words == {w for w in lines if w and not w.startswith("#")}
    assert (
        len(stop_words) == 126
        and {"the", "yourselves"} <= stop_words
        and stop_words is kotae.text.EN_STOPWORDS
    )
    assert {"助詞", "助動詞", "記号"} <= kotae.text.tokenizers._JA_SKIP_POS


# --- chunk_text -------------------------------------------------------------------------------


def test_chunk_short_text_is_one_stripped_chunk() -> None:
    assert chunk_text("  hello world \n", 100, 10) == ["hello world"]


def test_chunk_text_exactly_size_is_one_chunk() -> None:
    assert chunk_text("a" * 10, 10, 3) == ["a" * 10]


@pytest.mark.parametrize("text", [pytest.param("", id="empty"), pytest.param("  \n\t ", id="whitespace")])
def test_chunk_empty_text_has_no_chunks(text: str) -> None:
    assert chunk_text(text, 10, 2) == []


def test_chunk_without_sentence_ends_steps_by_size_minus_overlap() -> None:
    # 52 letters, size 10, overlap 3: windows start at 0, 7, 14, ..., 42 (step 10 - 3).
    chunks = chunk_text(string.ascii_letters, 10, 3)
    assert chunks == [
        "abcdefghij",
        "hijklmnopq",
        "opqrstuvwx",
        "vwxyzABCDE",
        "CDEFGHIJKL",
        "JKLMNOPQRS",
        "QRSTUVWXYZ",
    ]


def test_consecutive_chunks_overlap() -> None:
    chunks = chunk_text(string.ascii_letters, 10, 3)
    for left, right in itertools.pairwise(chunks):
        assert left[-3:] == right[:3]


def test_every_chunk_fits_size() -> None:
    text = "".join(f"Sentence {i} talks about the VPN. " for i in range(40))
    chunks = chunk_text(text, 60, 15)
    assert len(chunks) > 1
    assert all(0 < len(c) <= 60 for c in chunks)


def test_chunking_is_deterministic() -> None:
    text = "経費精算は月末までに申請してください。" * 30 + "Then ask the finance team. " * 10
    assert chunk_text(text, 90, 20) == chunk_text(text, 90, 20)


def test_chunk_prefers_sentence_end() -> None:
    # GIVEN a sentence end (。) at position 51 of a 101-char text, past half of size 80
    text = "A" * 50 + "。" + "B" * 50
    # WHEN chunked
    chunks = chunk_text(text, 80, 10)
    # THEN the first chunk ends at the 。, and the next starts 10 chars (the overlap) earlier
    assert chunks == ["A" * 50 + "。", "A" * 9 + "。" + "B" * 50]


def test_chunk_cuts_after_period_and_space() -> None:
    text = "x" * 30 + ". " + "y" * 30
    assert chunk_text(text, 40, 0) == ["x" * 30 + ".", "y" * 30]


def test_period_without_space_is_not_a_sentence_end() -> None:
    text = "x" * 30 + ".y" + "y" * 29
    assert chunk_text(text, 40, 0) == [text[:40], text[40:]]


def test_sentence_end_in_first_half_is_ignored() -> None:
    # The 。 is at position 11, not past size // 2 = 25, so the cut is at the full size.
    text = "A" * 10 + "。" + "B" * 90
    assert chunk_text(text, 50, 0) == ["A" * 10 + "。" + "B" * 39, "B" * 50, "B"]


def test_chunk_newline_is_a_sentence_end() -> None:
    text = "a" * 20 + "\n" + "b" * 20
    assert chunk_text(text, 30, 0) == ["a" * 20, "b" * 20]


def _covers(text: str, chunks: list[str]) -> bool:
    """Whether the chunks can be laid on ``text`` in order, each starting at or after the previous
    one, with nothing but whitespace left between them, from the first character to the last.

    States map a chunk's start to the furthest covered end reachable with that start.
    """
    states: dict[int, int] = {0: 0}
    for chunk in chunks:
        following: dict[int, int] = {}
        for previous, covered in states.items():
            at = text.find(chunk, previous)
            while at != -1 and (at <= covered or text[covered:at].isspace()):
                end = max(covered, at + len(chunk))
                following[at] = max(following.get(at, 0), end)
                at = text.find(chunk, at + 1)
        if not following:
            return False
        states = following
    return max(states.values(), default=0) == len(text)


_TEXT = st.one_of(
    st.text(alphabet="ab c.。!?\n\t", max_size=200),
    st.text(max_size=150),
)


@settings(max_examples=150, deadline=None)
@given(
    text=_TEXT, size=st.integers(min_value=1, max_value=60), overlap=st.integers(min_value=0, max_value=80)
)
def test_chunk_properties(text: str, size: int, overlap: int) -> None:
    chunks = chunk_text(text, size, overlap)
    stripped = text.strip()
    assert all(chunk and len(chunk) <= size and chunk == chunk.strip() for chunk in chunks)
    assert chunk_text(text, size, overlap) == chunks
    if not stripped:
        assert chunks == []
    elif len(stripped) <= size:
        assert chunks == [stripped]
    else:
        assert chunks[0] == stripped[: len(chunks[0])]
        assert chunks[-1] == stripped[-len(chunks[-1]) :]
        assert _covers(stripped, chunks)


@pytest.mark.parametrize(
    ("text", "chunks", "expected"),
    [
        pytest.param("abcdef", ["abc", "def"], True, id="adjacent"),
        pytest.param("abcdef", ["abcd", "cdef"], True, id="overlapping"),
        pytest.param("abc def", ["abc", "def"], True, id="whitespace-gap"),
        pytest.param("abcxdef", ["abc", "def"], False, id="gap-drops-a-letter"),
        pytest.param("abcdef", ["abc", "de"], False, id="tail-missing"),
        pytest.param("abcdef", ["def", "abc"], False, id="out-of-order"),
    ],
)
def test_covers_helper(text: str, chunks: list[str], expected: bool) -> None:
    # The property test's oracle must itself be able to say no.
    assert _covers(text, chunks) is expected
