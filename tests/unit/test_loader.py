"""kotae.indexing.loader.read_items: good lines go on, bad ones are reported with their line number."""

from __future__ import annotations

from pathlib import Path

import pytest

from kotae.errors import InputError
from kotae.indexing.loader import LineError, read_items
from kotae.models import Item


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "items.jsonl"
    path.write_bytes(data)
    return path


def test_good_lines(tmp_path: Path) -> None:
    path = _write(tmp_path, b'{"key": "a", "kind": "faq", "question": "Q"}\n{"id": 7}\n')
    assert list(read_items(path)) == [
        (1, Item(key="a", kind="faq", attributes={"question": "Q"})),
        (2, Item(key="7", kind="unknown", attributes={})),
    ]


def test_utf8_text_and_crlf(tmp_path: Path) -> None:
    path = _write(tmp_path, '{"key": "ja", "question": "経費精算"}\r\n'.encode())
    assert list(read_items(path)) == [(1, Item(key="ja", attributes={"question": "経費精算"}))]


def test_blank_lines_skipped_but_counted(tmp_path: Path) -> None:
    path = _write(tmp_path, b'\n   \n\t\r\n{"key": "a"}\n\n{"key": "b"}')
    assert [(n, item.key) for n, item in read_items(path)] == [(4, "a"), (6, "b")]


def test_empty_file(tmp_path: Path) -> None:
    assert list(read_items(_write(tmp_path, b""))) == []


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        pytest.param(
            b"{bad json}",
            "not valid JSON: Expecting property name enclosed in double quotes at column 2",
            id="bad-json",
        ),
        pytest.param(
            b'{"key": "x" "y"}',
            "not valid JSON: Expecting ',' delimiter at column 13",
            id="missing-comma",
        ),
        pytest.param(b"[1, 2]", "an item must be a JSON object, not list", id="array"),
        pytest.param(b'"just a string"', "an item must be a JSON object, not str", id="string"),
        pytest.param(b"null", "an item must be a JSON object, not NoneType", id="null"),
        pytest.param(
            b'{"title": "no key"}', "the item has no key (one of item_key, key, pk, id)", id="no-key"
        ),
        pytest.param(b'{"key": true}', "the item key must be a string, not bool", id="bool-key"),
        pytest.param(b'\xff\xfe{"key": "x"}', "not UTF-8 (invalid start byte)", id="invalid-utf8"),
        pytest.param(b'{"key": "caf\xe9"}', "not UTF-8 (invalid continuation byte)", id="latin1-byte"),
    ],
)
def test_bad_line_reported_and_good_lines_kept(tmp_path: Path, bad: bytes, message: str) -> None:
    # GIVEN a bad line 3 between good lines 1 and 4 (line 2 blank)
    path = _write(tmp_path, b'{"key": "first"}\n\n' + bad + b'\n{"key": "last"}\n')
    # WHEN read
    results = list(read_items(path))
    # THEN the error carries line 3 and both good items come through
    assert results == [
        (1, Item(key="first")),
        (3, LineError(3, message)),
        (4, Item(key="last")),
    ]


def test_several_bad_lines(tmp_path: Path) -> None:
    path = _write(tmp_path, b'[]\n{"key": "ok"}\nnope\n\xc3\n{}\n')
    results = list(read_items(path))
    assert [(n, type(r).__name__) for n, r in results] == [
        (1, "LineError"),
        (2, "Item"),
        (3, "LineError"),
        (4, "LineError"),
        (5, "LineError"),
    ]
    assert all(r.line == n for n, r in results if isinstance(r, LineError))


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(b'{"key": "b", "n": ' + b"9" * 5000 + b"}", id="int-over-4300-digits"),
        pytest.param(b'{"key": "b", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", id="deeply-nested"),
    ],
)
def test_pathological_json_is_a_line_error(tmp_path: Path, bad: bytes) -> None:
    path = _write(tmp_path, b'{"key": "a"}\n' + bad + b'\n{"key": "c"}\n')
    results = list(read_items(path))
    assert [n for n, _ in results] == [1, 2, 3]
    assert isinstance(results[1][1], LineError)


def test_truncated_line_reports_its_own_column(tmp_path: Path) -> None:
    path = _write(tmp_path, b'{"key": "x"\n')
    assert list(read_items(path)) == [
        (1, LineError(1, "not valid JSON: Expecting ',' delimiter at column 12"))
    ]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        pytest.param("missing.jsonl", "No such file or directory", id="missing"),
        pytest.param(".", "Is a directory", id="directory"),
    ],
)
def test_unreadable_path(tmp_path: Path, name: str, reason: str) -> None:
    path = tmp_path / name
    with pytest.raises(InputError) as caught:
        list(read_items(path))
    assert str(caught.value) == f"cannot read {path}: {reason}"
    assert caught.value.user_message == str(caught.value)
