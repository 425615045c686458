"""Reading knowledge items from JSONL: good lines go on, bad ones are reported by line number."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kotae.errors import InputError, InvalidItem
from kotae.models import Item


@dataclass(frozen=True)
class LineError:
    line: int
    message: str


def read_items(path: Path) -> Iterator[tuple[int, Item | LineError]]:
    """Yield (line number, item or error) for every non-blank line."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    with handle:
        for number, raw_line in enumerate(handle, start=1):
            try:
                line = raw_line.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield number, LineError(number, f"not UTF-8 ({exc.reason})")
                continue
            if not line.strip():
                continue
            try:
                raw = json.loads(line.rstrip("\r\n"))
            except json.JSONDecodeError as exc:
                yield number, LineError(number, f"not valid JSON: {exc.msg} at column {exc.colno}")
                continue
            except (ValueError, RecursionError) as exc:  # numbers over 4,300 digits, absurd nesting
                yield number, LineError(number, f"not usable JSON: {type(exc).__name__}")
                continue
            try:
                yield number, Item.from_mapping(raw)
            except InvalidItem as exc:
                yield number, LineError(number, str(exc))
