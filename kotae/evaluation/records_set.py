"""A record evaluation set on disk: ``records.jsonl`` (knowledge items of kind ``record``) and
``questions.jsonl`` (the record questions with their expected results), from one seed.

Records already in the knowledge the evaluation loads (the sample's, say) are read with
``base`` so that they count in the expected figures; they are not written again.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from kotae.errors import InputError
from kotae.evaluation.records_data import RESTRICTED, generate
from kotae.evaluation.records_questions import LIST_LIMIT, build_questions


def read_base(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """The records (kind ``record``) of JSONL knowledge files the evaluation will also load."""
    rows: list[dict[str, Any]] = []
    for path in paths:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read {path}: {exc}") from exc
        for number, line in enumerate(lines, start=1):
            try:
                item = json.loads(line) if line.strip() else None
            except json.JSONDecodeError as exc:
                raise InputError(f"{path} line {number}: not JSON ({exc.msg})") from exc
            if isinstance(item, dict) and item.get("kind") == "record":
                rows.append(item)
    return rows


def write_set(directory: Path, *, seed: int, records: int, executions: int, start: date,
              list_limit: int = LIST_LIMIT, base: Sequence[Path] = ()) -> dict[str, Any]:  # fmt: skip
    """Write ``records.jsonl`` and ``questions.jsonl`` to ``directory``; a summary of both."""
    table = generate(seed, records=records, executions=executions, start=start)
    known = read_base(base)
    clash = {r["item_key"] for r in known} & {r["item_key"] for r in table.records}
    if clash:
        raise InputError(f"{len(clash)} generated keys are already in the base knowledge, e.g. {min(clash)}")
    questions = build_questions(table, known, seed=seed, list_limit=list_limit)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        _write_jsonl(directory / "records.jsonl", table.records)
        _write_jsonl(directory / "questions.jsonl", questions)
    except OSError as exc:
        raise InputError(f"cannot write the record set to {directory}: {exc.strerror or exc}") from exc
    statuses = Counter(r["status"] for r in table.records)
    return {
        "records": len(table.records),
        "executions": len(table.executions),
        "status_rates": {s: round(n / len(table.records), 4) for s, n in sorted(statuses.items())},
        "restricted": sum(1 for r in table.records if RESTRICTED in r["scopes"]),
        "questions": len(questions),
        "languages": dict(Counter(q["lang"] for q in questions)),
        "base_records": len(known),
        "files": [str(directory / "records.jsonl"), str(directory / "questions.jsonl")],
    }


def _write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
