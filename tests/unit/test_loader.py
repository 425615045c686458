"""kotae.indexing.loader: good lines go on, bad ones are reported with their line number, and
ItemFile lets the last good line of a key win without holding the items."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kotae.errors import InputError
from kotae.indexing.loader import MAX_LINE_BYTES, ItemFile, LineError, batches, read_items
from kotae.models import Item


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "items.jsonl"
    path.write_bytes(data)
    return path


def test_good_lines(tmp_path: Path) -> None:
    path = _write(tmp_path, b'{"key": "a", "kind": "faq", "question": "Q"}\n{"id": 7}\n')
    assert list(read_items(path)) == [
        (1, Item(key="a", keys={"key": "a"}, kind="faq", attributes={"question": "Q"})),
        (2, Item(key="7", kind="unknown", keys={"id": 7})),
    ]


def test_utf8_text_and_crlf(tmp_path: Path) -> None:
    path = _write(tmp_path, '{"key": "ja", "question": "経費精算"}\r\n'.encode())
    assert list(read_items(path)) == [
        (1, Item(key="ja", keys={"key": "ja"}, attributes={"question": "経費精算"}))
    ]


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
        (1, Item(key="first", keys={"key": "first"})),
        (3, LineError(3, message)),
        (4, Item(key="last", keys={"key": "last"})),
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


def test_read_items_is_lazy(tmp_path: Path) -> None:
    # GIVEN a one-line file whose first item has been read
    path = _write(tmp_path, b'{"key": "a"}\n')
    reader = read_items(path)
    assert next(reader) == (1, Item(key="a", keys={"key": "a"}))
    # WHEN a line is appended only now
    with path.open("ab") as handle:
        handle.write(b'{"key": "b"}\n')
    # THEN the reader still sees it: it had not read ahead into a list
    assert list(reader) == [(2, Item(key="b", keys={"key": "b"}))]


def test_an_over_long_last_line_without_newline(tmp_path: Path) -> None:
    path = _write(tmp_path, b'{"key": "a"}\n{"key": "b", "x": "' + b"x" * MAX_LINE_BYTES + b'"}')
    assert list(read_items(path)) == [
        (1, Item(key="a", keys={"key": "a"})),
        (2, LineError(2, "longer than 1,048,576 bytes; an item must fit DynamoDB's 400 KB")),
    ]


# -- ItemFile: the last good line of a key wins ---------------------------------------------------


def _scanned(path: Path) -> tuple[ItemFile, list[LineError]]:
    source = ItemFile(path)
    return source, list(source.scan())


def test_item_file_yields_each_key_once_with_its_last_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        b'{"key": "a", "v": 1}\n{"key": "b"}\nnope\n{"key": "a", "v": 2}\n\n{"key": "a", "v": 3}\n{"key": "c"}\n',
    )
    source, errors = _scanned(path)
    assert errors == [LineError(3, "not valid JSON: Expecting value at column 1")]
    assert (source.count, source.good, source.rejected, source.superseded) == (3, 5, 1, 2)
    assert source.last_line == {"a": 6, "b": 2, "c": 7}  # keys and line numbers only, no items
    assert list(source.items()) == [
        Item(key="b", keys={"key": "b"}),
        Item(key="a", keys={"key": "a"}, attributes={"v": 3}),
        Item(key="c", keys={"key": "c"}),
    ]


def test_item_file_scans_again_from_scratch(tmp_path: Path) -> None:
    source, _ = _scanned(_write(tmp_path, b'{"key": "a"}\n{"key": "a"}\n[]\n'))
    assert list(source.scan()) == [LineError(3, "an item must be a JSON object, not list")]
    assert (source.count, source.good, source.rejected, source.superseded) == (1, 2, 1, 1)


def test_item_file_needs_a_finished_scan_first(tmp_path: Path) -> None:
    source = ItemFile(_write(tmp_path, b'{"key": "a"}\n[]\n[]\n'))
    with pytest.raises(RuntimeError, match=r"before a finished scan\(\)"):
        list(source.items())
    next(source.scan())  # stopped at the first error
    with pytest.raises(RuntimeError, match=r"before a finished scan\(\)"):
        list(source.items())


def _rewrite_keeping_size_and_time(path: Path, data: bytes) -> None:
    """Change a file's lines behind the reader's back without changing its size or mtime."""
    before = path.stat()
    assert len(data) == before.st_size
    path.write_bytes(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


@pytest.mark.parametrize(
    ("changed", "how"),
    [
        pytest.param(b'{"key": "a"}\n{"key": "b"}\n', "grown", id="appended"),
        pytest.param(b'{"key": "a"}\n{"key": "z"}\n', "same-size", id="other-key"),
        pytest.param(b'{"key": "a"}\n{"key":\n"b"}\n', "same-size", id="fewer-good-lines"),
        pytest.param(b'{"key": "a"}' + b" " * 13 + b"\n", "same-size", id="lines-gone"),
    ],
)
def test_a_file_changed_between_the_passes_is_refused(tmp_path: Path, changed: bytes, how: str) -> None:
    # GIVEN a scanned file
    path = _write(tmp_path, b'{"key": "a"}\n{"key": "b"}\n')
    source, _ = _scanned(path)
    # WHEN it changes before the second pass
    if how == "grown":
        path.write_bytes(path.read_bytes() + changed)
    else:
        _rewrite_keeping_size_and_time(path, changed)
    # THEN the second pass refuses to go on rather than load something the scan did not see
    with pytest.raises(InputError, match="changed while it was being read; run the command again"):
        list(source.items())


def test_item_file_reads_lazily_and_checks_each_line_it_takes(tmp_path: Path) -> None:
    # GIVEN lines bigger than the read buffer, and the first item already taken
    pad = "x" * 20_000
    lines = [json.dumps({"key": key, "pad": pad}).encode() for key in ("a", "b", "c")]
    path = _write(tmp_path, b"\n".join(lines) + b"\n")
    source, _ = _scanned(path)
    items = source.items()
    assert next(items).key == "a"
    # WHEN line 3 changes (same size, same mtime) after that
    _rewrite_keeping_size_and_time(path, b"\n".join([*lines[:2], lines[2].replace(b'"c"', b'"d"')]) + b"\n")
    # THEN line 2 comes as scanned and line 3, read only now, is refused
    assert next(items).key == "b"
    with pytest.raises(InputError, match="changed while it was being read"):
        next(items)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        pytest.param(lambda p: None, "No such file or directory", id="missing"),
        pytest.param(lambda p: p.mkdir(), "not a regular file", id="directory"),
        pytest.param(os.mkfifo, "not a regular file", id="pipe"),
    ],
)
def test_item_file_needs_a_regular_file(tmp_path: Path, make, reason: str) -> None:
    path = tmp_path / "input"
    make(path)
    with pytest.raises(InputError, match=f"cannot read {path}: {reason}"):
        list(ItemFile(path).scan())


def test_batches_take_items_as_they_are_needed() -> None:
    taken: list[int] = []

    def numbers():
        for n in range(5):
            taken.append(n)
            yield n

    parts = batches(numbers(), 2)
    assert next(parts) == [0, 1] and taken == [0, 1]
    assert list(parts) == [[2, 3], [4]]
    assert list(batches([], 3)) == []
