"""Poisoned JSONL cannot stop `kotae ingest` or `kotae load`, nor make an older line win.

Every bad line is reported with its number and a reason, every good line still goes in, and of
several lines with one key the last good one is what ends up indexed or written.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from kotae.indexing.loader import MAX_LINE_BYTES
from tests.standins.streams import REGION, knowledge_table

GOOD_FIRST = (
    b'{"item_key": "first", "kind": "faq", "question": "How do llamas sleep?", "answer": "Standing."}'
)
GOOD_LAST = b'{"item_key": "last", "kind": "faq", "question": "Where do alpacas live?", "answer": "Peru."}'


def _nested(levels: int) -> bytes:
    return b'{"item_key": "bad", "x": ' + b"[" * levels + b"]" * levels + b"}"


def _line_of(size: int) -> bytes:
    """An item line of exactly ``size`` bytes whose item stays far below 400 KB: each ``\\u0041``
    escape is 6 bytes of JSON for 1 byte of text."""
    head, tail = b'{"item_key": "long", "answer": "', b'"}'
    escapes, rest = divmod(size - len(head) - len(tail), 6)
    return head + b"\\u0041" * escapes + b"A" * rest + tail


POISON = [
    pytest.param(b'{"item_key": "bad", "question": "Q \\ud800", "answer": "A"}', "lone surrogate (\\ud800)", id="surrogate-in-text"),
    pytest.param(b'{"item_key": "\\udfff", "question": "Q"}', "lone surrogate (\\udfff)", id="surrogate-in-key"),
    pytest.param(b'{"item_key": "bad", "\\udc00x": "Q"}', "lone surrogate (\\udc00)", id="surrogate-in-attribute-name"),
    pytest.param(b'{"item_key": "bad", "meta": {"tags": ["ok", "\\ud83d"]}}', "attribute 'meta' holds a lone surrogate", id="surrogate-nested"),
    pytest.param(b'{"item_key": "bad", "a": "\\ude00\\ud83d"}', "lone surrogate (\\ude00)", id="surrogate-pair-reversed"),
    pytest.param(_nested(33), "nests deeper than DynamoDB's 32 levels", id="nested-33"),
    pytest.param(_nested(600), "nests deeper than DynamoDB's 32 levels", id="nested-600"),
    pytest.param(_nested(100_000), "nested too deeply", id="nested-100000"),
    pytest.param(b'{"item_key": "bad", "n": NaN}', "NaN is not a JSON number", id="nan"),
    pytest.param(b'{"item_key": "bad", "n": Infinity}', "Infinity is not a JSON number", id="infinity"),
    pytest.param(b'{"item_key": "bad", "n": [-Infinity]}', "-Infinity is not a JSON number", id="minus-infinity"),
    pytest.param(b'{"item_key": "bad", "n": 1e999}', "the number 1e999 is too large", id="float-overflow"),
    pytest.param(b'{"item_key": "bad", "n": 1e200}', "does not fit DynamoDB", id="beyond-dynamodb-exponent"),
    pytest.param(b'{"item_key": "bad", "n": 1e-200}', "does not fit DynamoDB", id="below-dynamodb-exponent"),
    pytest.param(b'{"item_key": "bad", "n": ' + b"9" * 39 + b"}", "does not fit DynamoDB", id="int-39-digits"),
    pytest.param(b'{"item_key": "bad", "n": ' + b"9" * 5000 + b"}", "(5,000 characters)", id="int-5000-digits"),
    pytest.param(b"[1, 2]", "an item must be a JSON object, not list", id="array"),
    pytest.param(b"42", "an item must be a JSON object, not int", id="number"),
    pytest.param(b'"text"', "an item must be a JSON object, not str", id="string"),
    pytest.param(b"\xff\xfe{}", "not UTF-8", id="invalid-utf8"),
    pytest.param(b'{"item_key": "caf\xe9"}', "not UTF-8", id="latin1"),
    pytest.param(b'{"item_key": "bad", "x": "\xed\xa0\x80"}', "not UTF-8", id="utf8-encoded-surrogate"),
    pytest.param(_line_of(MAX_LINE_BYTES + 1), "longer than 1,048,576 bytes", id="line-over-1mib"),
    pytest.param(_line_of(4 * MAX_LINE_BYTES), "longer than 1,048,576 bytes", id="line-of-4mib"),
    pytest.param(b'{"item_key": "bad", "answer": "' + b"x" * 410_000 + b'"}', "over DynamoDB's 400 KB", id="item-over-400kb"),
    pytest.param(
        b'{"item_key": "bad", "answer": "' + "答".encode() * 140_000 + b'"}', "over DynamoDB's 400 KB", id="cjk-over-400kb"
    ),
    pytest.param(b'{"item_key": "' + b"k" * 2049 + b'"}', "takes 2,049 bytes, over DynamoDB's 2,048 for a partition key", id="key-over-2kb"),
]  # fmt: skip

ACCEPTED = [
    pytest.param(_nested(32), id="nested-32"),
    pytest.param(b'{"item_key": "ok", "x": {"y": ' + b"[" * 31 + b"]" * 31 + b"}}", id="nested-32-in-a-map"),
    pytest.param(b'{"item_key": "ok", "question": "Smile \\ud83d\\ude00 \xf0\x9f\x98\x80"}', id="surrogate-pair"),
    pytest.param(b'{"item_key": "ok", "n": ' + b"9" * 38 + b", \"f\": 1.5e-120, \"g\": -1e120}", id="dynamodb-numbers"),
    pytest.param(_line_of(MAX_LINE_BYTES), id="line-of-1mib"),
    pytest.param(b'{"item_key": "' + b"k" * 2048 + b'"}', id="key-of-2kb"),
]  # fmt: skip


def _file(tmp_path: Path, *lines: bytes) -> Path:
    path = tmp_path / "items.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _titles(run, query: str) -> dict[str, str]:
    code, out, _ = run("search", query, "--json")
    assert code == 0
    return {hit["key"]: hit["title"] for hit in json.loads(out)}


@pytest.mark.parametrize(("bad", "reason"), POISON)
def test_ingest_reports_a_poisoned_line_and_indexes_the_rest(
    run, tmp_path: Path, bad: bytes, reason: str
) -> None:
    # GIVEN a poisoned line 2 between two good lines
    source = _file(tmp_path, GOOD_FIRST, bad, GOOD_LAST)
    # WHEN ingested
    code, out, err = run("ingest", str(source))
    # THEN line 2 is reported with its reason and both good lines are indexed
    assert "Traceback" not in err
    assert code == 0
    assert "2 indexed; 1 line(s) rejected" in out
    assert "line 2" in err and reason in " ".join(err.split())
    assert "line 1" not in err and "line 3" not in err


@pytest.mark.parametrize("line", ACCEPTED)
def test_ingest_accepts_what_the_table_can_hold(run, tmp_path: Path, line: bytes) -> None:
    code, out, err = run("ingest", str(_file(tmp_path, GOOD_FIRST, line)))
    assert code == 0 and "2 indexed; 0 line(s) rejected" in out, err


def test_every_poisoned_line_of_one_file_is_reported(run, tmp_path: Path) -> None:
    # GIVEN every kind of poison in one file, a good line after each
    bad = [param.values[0] for param in POISON]
    lines = [
        line for i, poison in enumerate(bad) for line in (poison, GOOD_LAST.replace(b"last", b"last-%d" % i))
    ]
    source = _file(tmp_path, GOOD_FIRST, *lines)
    # WHEN ingested
    code, out, err = run("ingest", str(source))
    # THEN each poisoned line is reported by number and every good line is indexed
    assert code == 0 and "Traceback" not in err
    reported = {int(word) for word in err.replace(":", " ").split() if word.isdigit()}
    assert {2 + 2 * i for i in range(len(bad))} <= reported
    assert f"{1 + len(bad)} indexed; {len(bad)} line(s) rejected" in out


def test_a_file_of_only_poison_fails(run, tmp_path: Path) -> None:
    code, out, err = run(
        "ingest", str(_file(tmp_path, b'{"item_key": "\\ud800"}', b'{"item_key": "x", "n": NaN}'))
    )
    assert code == 1 and "line 1" in err and "line 2" in err and "Traceback" not in err
    assert "nothing indexed; 2 line(s) rejected" in out


# -- last line wins -----------------------------------------------------------------------------


def _faq(key: str, question: str) -> bytes:
    return json.dumps({"item_key": key, "kind": "faq", "question": question, "answer": "Yes."}).encode()


def test_the_last_line_for_a_key_wins_within_one_batch(run, tmp_path: Path) -> None:
    # GIVEN key a already indexed as "alpacas"
    run("ingest", str(_file(tmp_path, _faq("a", "Do alpacas hum?"))))
    # WHEN a file says "llamas" and then "alpacas" again for a (one batch)
    source = tmp_path / "again.jsonl"
    source.write_bytes(_faq("a", "Do llamas hum?") + b"\n" + _faq("a", "Do alpacas hum?") + b"\n")
    code, out, _ = run("ingest", str(source))
    # THEN the last line is what is indexed, and the CLI says one line was superseded
    assert code == 0 and "1 line(s) superseded by a later line" in out
    assert _titles(run, "alpacas hum") == {"a": "Do alpacas hum?"}
    assert _titles(run, "llamas") == {}


def test_the_last_line_for_a_key_wins_across_batches(run, tmp_path: Path) -> None:
    source = _file(
        tmp_path,
        _faq("a", "Do llamas hum?"),
        _faq("b", "Do camels spit?"),
        _faq("a", "Do vicunas hum?"),
        _faq("c", "Do yaks climb?"),
        _faq("a", "Do alpacas hum?"),
    )
    code, out, _ = run("ingest", str(source), "--batch", "1")
    assert code == 0 and "3 indexed; 0 line(s) rejected; 2 line(s) superseded by a later line" in out
    assert _titles(run, "hum") == {"a": "Do alpacas hum?"}


def test_a_rejected_later_line_supersedes_nothing(run, tmp_path: Path) -> None:
    source = _file(tmp_path, _faq("a", "Do alpacas hum?"), b'{"item_key": "a", "question": "\\ud800"}')
    code, out, err = run("ingest", str(source))
    assert code == 0 and "1 indexed; 1 line(s) rejected; 0 line(s) superseded" in out and "line 2" in err
    assert _titles(run, "alpacas") == {"a": "Do alpacas hum?"}


# -- kotae load ---------------------------------------------------------------------------------


def _table_items(name: str) -> dict[str, dict]:
    return {
        i["item_key"]: i for i in boto3.resource("dynamodb", region_name=REGION).Table(name).scan()["Items"]
    }


@pytest.mark.parametrize(("bad", "reason"), POISON)
def test_load_reports_a_poisoned_line_and_writes_the_rest(
    run, monkeypatch, tmp_path: Path, bad: bytes, reason: str
) -> None:
    monkeypatch.setenv("KOTAE_AWS_REGION", REGION)
    source = _file(tmp_path, GOOD_FIRST, bad, GOOD_LAST)
    with knowledge_table() as table:
        code, out, err = run("load", str(source), "--table", table.name)
        assert "Traceback" not in err
        assert code == 0 and "wrote 2 faq" in out and "1 line(s) rejected" in out
        assert "line 2" in err and reason in " ".join(err.split())
        assert set(_table_items(table.name)) == {"first", "last"}


def test_load_writes_the_last_line_of_a_key(run, monkeypatch, tmp_path: Path) -> None:
    # GIVEN a key written three times, once in a later batch of the batch writer (25 items)
    monkeypatch.setenv("KOTAE_AWS_REGION", REGION)
    lines = [_faq("a", "Do llamas hum?"), _faq("a", "Do vicunas hum?")]
    lines += [_faq(f"k{i}", "Filler?") for i in range(30)] + [_faq("a", "Do alpacas hum?")]
    with knowledge_table() as table:
        # WHEN loaded
        code, out, err = run("load", str(_file(tmp_path, *lines)), "--table", table.name)
        # THEN each key is written once, with its last line
        assert code == 0 and "wrote 31 faq" in out and "2 line(s) superseded by a later line" in out, err
        items = _table_items(table.name)
        assert len(items) == 31 and items["a"]["question"] == "Do alpacas hum?"
