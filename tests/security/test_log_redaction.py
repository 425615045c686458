"""Personal data can be kept out of the answer log (issue 11, "PII kept out of logs")."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kotae.ops.redaction import DROPPED, RedactingSink, mask, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("mail taro.yamada+hr@hoshizora.example about it", "mail [email] about it", id="email"),
        pytest.param("call +81 90-1234-5678 now", "call [phone] now", id="intl-phone"),
        pytest.param("電話は03-1234-5678です", "電話は[phone]です", id="tokyo-phone"),
        pytest.param("携帯 ０９０－１２３４－５６７８", "携帯 [phone]", id="full-width-phone"),
        pytest.param("社員番号 12345678 の件", "社員番号 [number] の件", id="employee-number"),
        pytest.param("card 4111 1111 1111 1111", "card [phone]", id="card-in-groups"),
        pytest.param("VPN for 2026 at 9:00, room 301", "VPN for 2026 at 9:00, room 301", id="harmless-numbers"),
    ],
)
def test_mask(text: str, expected: str) -> None:
    assert mask(text) == expected


@given(st.text())
def test_masked_text_never_keeps_six_digits_in_a_row(text: str) -> None:
    masked = mask(text)
    run = 0
    for char in masked:
        run = run + 1 if char.isdigit() and char in "0123456789０１２３４５６７８９" else 0
        assert run < 6


class Memory:
    def __init__(self) -> None:
        self.records: list[tuple[str, dict[str, Any]]] = []

    def write(self, kind: str, record: dict[str, Any]) -> None:
        self.records.append((kind, record))


@pytest.mark.parametrize(
    ("mode", "logged"),
    [("off", "my id is 12345678"), ("mask", "my id is [number]"), ("drop", DROPPED)],
)
def test_the_sink_redacts_answer_questions_only(mode: str, logged: str) -> None:
    inner = Memory()
    sink = RedactingSink(inner, mode)  # type: ignore[arg-type]
    original = {"answer_id": "a", "question": "my id is 12345678", "user_id": "U1"}
    sink.write("answers", original)
    sink.write("feedback", {"answer_id": "a", "feedback": "up"})
    assert inner.records[0] == ("answers", {**original, "question": logged})
    assert inner.records[1] == ("feedback", {"answer_id": "a", "feedback": "up"})
    assert original["question"] == "my id is 12345678"  # the caller's record is not changed


def test_redact_keeps_missing_text_missing() -> None:
    assert redact(None, "mask") is None and redact("x", "off") == "x"
