"""Scopes fail closed (issue 11, hole 4): unreadable visibility is refused, never public.

Before the fix each of these items was indexed with scopes ["public"] (checked on the old code).
"""

from __future__ import annotations

from typing import Any

import pytest

from kotae.errors import InvalidItem
from kotae.models import Item

REFUSED = [
    pytest.param({"scopes": []}, id="empty-list"),
    pytest.param({"scopes": set()}, id="empty-set"),
    pytest.param({"scopes": None}, id="null"),
    pytest.param({"scopes": ""}, id="empty-string"),
    pytest.param({"scopes": ["hr", ""]}, id="blank-member"),
    pytest.param({"scopes": [None]}, id="null-member"),
    pytest.param({"scopes": [True]}, id="bool-member"),
    pytest.param({"scopes": [["hr"]]}, id="nested"),
    pytest.param({"scopes": 5}, id="a-number"),
    pytest.param({"scopes": {"hr": True}}, id="a-mapping"),
    pytest.param({"scope": ["hr"]}, id="singular"),
    pytest.param({"Scopes": ["hr"]}, id="capitalised"),
    pytest.param({"SCOPES": "hr"}, id="upper"),
    pytest.param({"scopes_": ["hr"]}, id="trailing-underscore"),
    pytest.param({"visibility": ["hr"]}, id="visibility"),
]


@pytest.mark.parametrize("attributes", REFUSED)
def test_unreadable_scopes_refuse_the_item(attributes: dict[str, Any]) -> None:
    with pytest.raises(InvalidItem, match="scope"):
        Item.from_mapping({"key": "k", "kind": "faq", "question": "q", "answer": "a", **attributes})


def test_a_near_miss_beside_real_scopes_is_still_refused() -> None:
    with pytest.raises(InvalidItem, match="'scope'"):
        Item.from_mapping({"key": "k", "scopes": ["public"], "scope": ["hr"]})


def test_fields_that_merely_look_alike_are_not_scopes() -> None:
    assert Item.from_mapping({"key": "k", "scores": [1, 2], "telescope": "x"}).scopes == ["public"]


def test_the_cli_reports_the_refused_line_and_indexes_the_rest(run, tmp_path) -> None:
    items = tmp_path / "items.jsonl"
    items.write_text(
        '{"item_key": "ok", "kind": "faq", "question": "VPN?", "answer": "Use GP."}\n'
        '{"item_key": "hr-1", "kind": "faq", "question": "Salary bands?", "answer": "Secret.", "scopes": []}\n'
    )
    code, out, err = run("--data-dir", str(tmp_path / "data"), "ingest", str(items))
    assert code == 0 and "1 indexed" in out and "1 line(s) rejected" in out
    assert "line 2" in err and "scopes" in err
    code, out, _ = run("--data-dir", str(tmp_path / "data"), "search", "Salary bands", "--json")
    assert "hr-1" not in out
