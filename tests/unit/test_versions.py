"""kotae.versions.is_older: write ordering for one item."""

from __future__ import annotations

import pytest

from kotae.versions import is_older


@pytest.mark.parametrize(
    ("candidate", "stored", "expected"),
    [
        pytest.param("1", "2", True, id="smaller-number"),
        pytest.param("2", "1", False, id="larger-number"),
        pytest.param("5", "5", False, id="equal-is-not-older"),
        # stream sequence numbers differ in length: compared as numbers, not strings
        pytest.param("9", "10", True, id="numeric-not-lexicographic"),
        pytest.param("10", "9", False, id="numeric-not-lexicographic-reverse"),
        pytest.param(
            "49545115243268973040318434170593485957291458434542829570",
            "49545115243268973040318434170593485957291458434542829571",
            True,
            id="long-sequence-numbers",
        ),
        pytest.param("001", "1", False, id="leading-zeros-equal"),
        pytest.param(None, "1", False, id="unversioned-candidate-applies"),
        pytest.param("1", None, False, id="nothing-stored"),
        pytest.param(None, None, False, id="both-unversioned"),
        # numbers and non-numbers are not comparable: the write applies
        pytest.param("abc", "1", False, id="text-vs-number"),
        pytest.param("1", "abc", False, id="number-vs-text"),
        pytest.param("a", "b", True, id="text-ordered"),
        pytest.param("b", "a", False, id="text-ordered-reverse"),
        pytest.param("2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", True, id="iso-timestamps"),
        pytest.param("2024-01-02T00:00:00Z", "2024-01-01T00:00:00Z", False, id="iso-timestamps-reverse"),
    ],
)
def test_is_older(candidate: str | None, stored: str | None, expected: bool) -> None:
    assert is_older(candidate, stored) is expected


def test_superscript_digit_version_does_not_crash() -> None:
    assert is_older("²", "1") is False
