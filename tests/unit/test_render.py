"""kotae.indexing.render: items to documents with per-kind templates, a generic fallback and stable chunks."""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kotae.indexing.render import DocumentRenderer, _plain, chunk_id, content_hash
from kotae.models import Item

PROMPTS = Path(__file__).parents[2] / "prompts"


@pytest.fixture(scope="module")
def renderer() -> DocumentRenderer:
    return DocumentRenderer(PROMPTS)


@pytest.fixture(scope="module")
def small() -> DocumentRenderer:
    return DocumentRenderer(PROMPTS, chunk_chars=100, chunk_overlap=10)


def _item(key: str, kind: str, **attributes: Any) -> Item:
    return Item(key=key, kind=kind, attributes=attributes)


def _sha(*parts: str) -> str:
    """content_hash written out: sha256 over the parts, each followed by a NUL, 32 hex digits."""
    return hashlib.sha256(b"".join(p.encode() + b"\x00" for p in parts)).hexdigest()[:32]


FAQ = {
    "question": "How do I reset my password?",
    "answer": "Use the self-service portal.",
    "tags": ["account", "password"],
}


# --- faq ---------------------------------------------------------------------------------------


def test_faq_title_is_question_and_text_has_answer_and_tags(renderer: DocumentRenderer) -> None:
    title, text, template = renderer.render_text(_item("faq-1", "faq", **FAQ))
    assert template == "faq"
    assert title == "How do I reset my password?"
    assert text == "How do I reset my password?\nUse the self-service portal.\nTags: account, password"


@pytest.mark.parametrize(
    "tags",
    [pytest.param([], id="empty-list"), pytest.param(None, id="none"), pytest.param("absent", id="absent")],
)
def test_faq_without_tags_has_no_tags_line(renderer: DocumentRenderer, tags: Any) -> None:
    attributes = {"question": "Q?", "answer": "A."}
    if tags != "absent":
        attributes["tags"] = tags
    assert renderer.render_text(Item(key="f", kind="faq", attributes=attributes)) == ("Q?", "Q?\nA.", "faq")


def test_faq_tags_set_is_sorted(renderer: DocumentRenderer) -> None:
    _, text, _ = renderer.render_text(_item("f", "faq", question="Q", answer="A", tags={"zeta", "alpha"}))
    assert text == "Q\nA\nTags: alpha, zeta"


def test_faq_document(renderer: DocumentRenderer) -> None:
    item = _item("faq-1", "faq", url="https://wiki.example/faq/1", updated_at="2024-05-01", **FAQ)
    [doc] = renderer.render(item, version="42")
    text = "How do I reset my password?\nUse the self-service portal.\nTags: account, password"
    assert doc.chunk_id == "faq-1#0000"
    assert doc.item_key == "faq-1"
    assert doc.kind == "faq"
    assert doc.title == "How do I reset my password?"
    assert doc.text == text
    assert doc.chunk_index == 0
    assert doc.url == "https://wiki.example/faq/1"
    assert doc.updated_at == "2024-05-01"
    assert doc.scopes == ["public"]
    assert doc.lang == "en"
    assert doc.version == "42"
    assert doc.content_hash == _sha("How do I reset my password?", text)


# --- record ------------------------------------------------------------------------------------

RECORD = {
    "record_id": "R-1",
    "task_name": "normalize",
    "execution_id": "E-9",
    "status": "SUCCEEDED",
    "input_value": "abc",
    "updated_at": "2024-01-01T00:00:00Z",
}


def test_record_mapping_output_is_sorted_json(renderer: DocumentRenderer) -> None:
    item = _item("r1", "record", normalized_output={"b": 2, "a": "日本"}, **RECORD)
    title, text, template = renderer.render_text(item)
    assert template == "record"
    assert title == "Record R-1 · normalize · execution E-9"
    assert text == (
        "Record R-1 of execution E-9, task normalize.\n"
        "Status: SUCCEEDED\n"
        "Input value: abc\n"
        'Normalized output: {"a": "日本", "b": 2}\n'
        "Updated: 2024-01-01T00:00:00Z"
    )


def test_failed_record_has_error_and_null_output(renderer: DocumentRenderer) -> None:
    attributes = {
        **RECORD,
        "status": "FAILED",
        "normalized_output": None,
        "error": "boom",
        "prompt_version": "v3",
    }
    _, text, template = renderer.render_text(Item(key="r2", kind="record", attributes=attributes))
    assert template == "record"
    assert text == (
        "Record R-1 of execution E-9, task normalize.\n"
        "Status: FAILED\n"
        "Input value: abc\n"
        "Normalized output: (none)\n"
        "Error: boom\n"
        "Prompt version: v3\n"
        "Updated: 2024-01-01T00:00:00Z"
    )


def test_record_scalar_output_printed_as_is(renderer: DocumentRenderer) -> None:
    _, text, _ = renderer.render_text(_item("r3", "record", normalized_output="ABC", **RECORD))
    assert "Normalized output: ABC\n" in text


def test_record_missing_field_falls_back_to_generic(renderer: DocumentRenderer) -> None:
    attributes = {k: v for k, v in RECORD.items() if k != "status"}
    _, _, template = renderer.render_text(Item(key="r4", kind="record", attributes=attributes))
    assert template == "generic"


# --- generic fallback --------------------------------------------------------------------------


def test_unknown_kind_uses_generic_with_every_attribute(renderer: DocumentRenderer) -> None:
    item = _item("x1", "widget", name="Gear", color="red", sizes=[1, 2], meta={"a": 1}, scopes=["hr"])
    title, text, template = renderer.render_text(item)
    assert template == "generic"
    assert title == "Gear"
    # attributes sorted by name, containers as JSON, scopes left out of the text
    assert text == 'widget x1\ncolor: red\nmeta: {"a": 1}\nname: Gear\nsizes: [1, 2]'


@pytest.mark.parametrize(
    ("attributes", "title"),
    [
        pytest.param({"title": "T", "name": "N"}, "T", id="title-wins"),
        pytest.param({"title": 5, "name": "N"}, "N", id="non-string-title"),
        pytest.param({"name": "N"}, "N", id="name"),
        pytest.param({"name": ["N"]}, "k9", id="non-string-name"),
        pytest.param({}, "k9", id="key"),
    ],
)
def test_generic_title(renderer: DocumentRenderer, attributes: dict[str, Any], title: str) -> None:
    assert renderer.render_text(Item(key="k9", kind="thing", attributes=attributes))[0] == title


def test_item_without_attributes(renderer: DocumentRenderer) -> None:
    assert renderer.render_text(Item(key="e1")) == ("e1", "unknown e1", "generic")


@pytest.mark.parametrize(
    "attributes",
    [
        pytest.param({"answer": "Only an answer"}, id="no-question"),
        pytest.param({"question": "Q"}, id="no-answer"),
        pytest.param({"question": "Q", "answer": "A", "tags": 5}, id="tags-not-iterable"),
    ],
)
def test_faq_of_wrong_shape_falls_back_to_generic(
    renderer: DocumentRenderer, attributes: dict[str, Any]
) -> None:
    title, text, template = renderer.render_text(Item(key="faq-2", kind="faq", attributes=attributes))
    assert template == "generic"
    assert title == "faq-2"
    assert text.startswith("faq faq-2\n")
    for name, value in attributes.items():
        assert f"{name}: {value}" in text


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("sub/faq", id="slash"),
        pytest.param("../documents/faq", id="traversal"),
        pytest.param("FAQ", id="case-differs"),
        pytest.param("fa\x00q", id="nul"),
        pytest.param("x" * 5000, id="very-long"),
    ],
)
def test_odd_kinds_use_generic(renderer: DocumentRenderer, kind: str) -> None:
    item = Item(key="k", kind=kind, attributes={"question": "q", "answer": "a"})
    _, text, template = renderer.render_text(item)
    assert template == "generic"
    assert text.endswith("answer: a\nquestion: q")


def test_nested_and_odd_values_never_crash(renderer: DocumentRenderer) -> None:
    item = _item(
        "n1",
        "mystery",
        nested={"m": {"s": {3, 1, 2}}, "l": [b"abc", Decimal("1.5"), Decimal("10")], 7: "int key"},
        big=10**30,
        bs=b"12345",
        dec=Decimal("12345678901234567890123"),
        when=datetime(2024, 5, 1, 12, 30),
    )
    title, text, template = renderer.render_text(item)
    assert (title, template) == ("n1", "generic")
    assert text == (
        "mystery n1\n"
        "big: 1000000000000000000000000000000\n"
        "bs: <5 bytes>\n"
        "dec: 12345678901234567890123\n"
        'nested: {"7": "int key", "l": ["<3 bytes>", 1.5, 10], "m": {"s": [1, 2, 3]}}\n'
        "when: 2024-05-01T12:30:00"
    )
    assert len(renderer.render(item)) == 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param({3, 1, 2}, [1, 2, 3], id="set-sorted"),
        pytest.param(frozenset({"b", "a"}), ["a", "b"], id="frozenset"),
        pytest.param({1, "a"}, [1, "a"], id="mixed-set-sorted-as-strings"),
        pytest.param((1, (2, 3)), [1, [2, 3]], id="tuples-to-lists"),
        pytest.param(bytearray(b"xyz"), "<3 bytes>", id="bytearray"),
        pytest.param(Decimal("10"), 10, id="integral-decimal"),
        pytest.param(Decimal("1E+3"), 1000, id="decimal-exponent"),
        pytest.param(Decimal("2.50"), 2.5, id="fractional-decimal"),
        pytest.param({1: {b"k"}}, {"1": ["<1 bytes>"]}, id="nested-keys-stringified"),
        pytest.param(datetime(2024, 1, 2, 3, 4, 5), "2024-01-02T03:04:05", id="datetime"),
        pytest.param("plain", "plain", id="str-unchanged"),
    ],
)
def test_plain(value: Any, expected: Any) -> None:
    result = _plain(value)
    assert result == expected
    assert type(result) is type(expected)


def test_infinite_decimal_does_not_crash(renderer: DocumentRenderer) -> None:
    _, text, _ = renderer.render_text(_item("inf", "mystery", value=Decimal("Infinity")))
    assert "value: inf" in text


def test_huge_int_does_not_crash(renderer: DocumentRenderer) -> None:
    docs = renderer.render(_item("huge", "mystery", value=10**5000))
    assert docs[0].chunk_id == "huge#0000"


# --- chunks, ids and hashes --------------------------------------------------------------------

LONG_ANSWER = "".join(f"Sentence number {i:02d} is here. " for i in range(8))


def test_long_text_is_chunked_with_stable_ids(small: DocumentRenderer) -> None:
    # GIVEN "Q?\n" and eight 28-char sentences (226 chars), chunks of 100 with overlap 10
    item = _item("faq-9", "faq", question="Q?", answer=LONG_ANSWER)
    # WHEN rendered
    docs = small.render(item)
    # THEN cuts fall after sentences 02 (pos 87) and 05 (pos 171); each next chunk restarts 10 earlier
    assert [d.chunk_id for d in docs] == ["faq-9#0000", "faq-9#0001", "faq-9#0002"]
    assert [d.chunk_index for d in docs] == [0, 1, 2]
    assert [d.text for d in docs] == [
        "Q?\nSentence number 00 is here. Sentence number 01 is here. Sentence number 02 is here.",
        "is here. Sentence number 03 is here. Sentence number 04 is here. Sentence number 05 is here.",
        "is here. Sentence number 06 is here. Sentence number 07 is here.",
    ]
    assert all(d.title == "Q?" and d.item_key == "faq-9" for d in docs)
    assert [d.content_hash for d in docs] == [_sha("Q?", d.text) for d in docs]


def test_same_input_same_ids_and_hashes(small: DocumentRenderer) -> None:
    item = _item("faq-9", "faq", question="Q?", answer=LONG_ANSWER)
    again = DocumentRenderer(PROMPTS, chunk_chars=100, chunk_overlap=10)
    assert small.render(item) == again.render(item)


def test_changed_text_changes_hash_not_id(small: DocumentRenderer) -> None:
    # GIVEN the same item before and after its last sentence changes
    before = small.render(_item("faq-9", "faq", question="Q?", answer=LONG_ANSWER))
    after = small.render(_item("faq-9", "faq", question="Q?", answer=LONG_ANSWER.replace("07", "99")))
    # THEN ids stay, only the changed chunk's hash differs
    assert [d.chunk_id for d in before] == [d.chunk_id for d in after]
    assert [b.content_hash == a.content_hash for b, a in zip(before, after, strict=True)] == [
        True,
        True,
        False,
    ]


def test_changed_title_changes_hash(renderer: DocumentRenderer) -> None:
    one = renderer.render(_item("f", "faq", question="Q1", answer="A"))[0]
    two = renderer.render(_item("f", "faq", question="Q2", answer="A"))[0]
    assert one.content_hash != two.content_hash


def test_empty_text_still_yields_one_document(renderer: DocumentRenderer) -> None:
    [doc] = renderer.render(_item("blank", "faq", question="", answer=""))
    assert (doc.chunk_id, doc.title, doc.text) == ("blank#0000", "blank", "blank")


@pytest.mark.parametrize(
    ("key", "index", "expected"),
    [
        pytest.param("k", 0, "k#0000", id="zero"),
        pytest.param("k", 12, "k#0012", id="padded"),
        pytest.param("a#b", 10000, "a#b#10000", id="wider-than-padding"),
    ],
)
def test_chunk_id(key: str, index: int, expected: str) -> None:
    assert chunk_id(key, index) == expected


def test_content_hash_separates_parts() -> None:
    assert content_hash("ab", "c") == _sha("ab", "c")
    assert content_hash("ab", "c") != content_hash("a", "bc")
    assert len(content_hash("x")) == 32


def test_content_hash_accepts_lone_surrogates() -> None:
    assert content_hash("\ud800") == hashlib.sha256(b"\xed\xa0\x80\x00").hexdigest()[:32]


# --- metadata ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        pytest.param({}, None, id="absent"),
        pytest.param({"url": "https://x.example/a"}, "https://x.example/a", id="string"),
        pytest.param({"url": 5}, None, id="not-a-string"),
    ],
)
def test_url(renderer: DocumentRenderer, attributes: dict[str, Any], expected: str | None) -> None:
    assert renderer.render(Item(key="k", kind="note", attributes=attributes))[0].url == expected


@pytest.mark.parametrize(
    ("updated_at", "expected"),
    [
        pytest.param(None, None, id="none"),
        pytest.param("2024-05-01T00:00:00Z", "2024-05-01T00:00:00Z", id="string"),
        pytest.param(1714521600, "1714521600", id="int"),
        pytest.param(Decimal("1714521600"), "1714521600", id="decimal"),
    ],
)
def test_updated_at(renderer: DocumentRenderer, updated_at: Any, expected: str | None) -> None:
    doc = renderer.render(Item(key="k", kind="note", attributes={"updated_at": updated_at}))[0]
    assert doc.updated_at == expected


@pytest.mark.parametrize(
    ("scopes", "expected"),
    [
        pytest.param("absent", ["public"], id="default"),
        pytest.param(["hr", "eng"], ["eng", "hr"], id="list-sorted"),
        pytest.param("hr", ["hr"], id="string"),
        pytest.param({"b", "a"}, ["a", "b"], id="set"),
    ],
)
def test_scopes(renderer: DocumentRenderer, scopes: Any, expected: list[str]) -> None:
    attributes = {} if scopes == "absent" else {"scopes": scopes}
    docs = renderer.render(Item(key="k", kind="note", attributes=attributes))
    assert docs[0].scopes == expected


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        pytest.param({"question": "How do I connect?", "answer": "Use the VPN."}, "en", id="detected-en"),
        pytest.param(
            {"question": "VPNに接続できません", "answer": "再起動してください。"}, "ja", id="detected-ja"
        ),
        pytest.param({"question": "How?", "answer": "Like this.", "lang": "ja"}, "ja", id="attribute-wins"),
        pytest.param({"question": "How?", "answer": "Like this.", "lang": 5}, "en", id="non-string-ignored"),
    ],
)
def test_lang(renderer: DocumentRenderer, attributes: dict[str, Any], expected: str) -> None:
    assert renderer.render(Item(key="k", kind="faq", attributes=attributes))[0].lang == expected


def test_every_chunk_carries_the_metadata(small: DocumentRenderer) -> None:
    item = _item("m", "faq", question="Q?", answer=LONG_ANSWER, url="https://u", scopes="hr", lang="en")
    docs = small.render(item, version="7")
    assert len(docs) == 3
    assert {(d.url, tuple(d.scopes), d.lang, d.version, d.kind) for d in docs} == {
        ("https://u", ("hr",), "en", "7", "faq")
    }
