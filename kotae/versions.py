"""Ordering of writes to one item: DynamoDB stream sequence numbers or item versions."""

from __future__ import annotations


def _key(version: str) -> tuple[int, int | str]:
    # Stream sequence numbers are decimal strings of varying length: compare them as numbers.
    return (0, int(version)) if version.isascii() and version.isdigit() else (1, version)


def is_older(candidate: str | None, stored: str | None) -> bool:
    """True when ``candidate`` is strictly older than ``stored``; unversioned writes always apply."""
    if candidate is None or stored is None:
        return False
    a, b = _key(candidate), _key(stored)
    if a[0] != b[0]:
        return False
    return a[1] < b[1]  # type: ignore[operator]
