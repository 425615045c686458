"""The batch inference file formats: JSONL records in, JSONL results out.

Input, one line a text (https://docs.aws.amazon.com/bedrock/latest/userguide/batch-inference-data.html):
``{"recordId": "...", "modelInput": {<the InvokeModel body>}}`` in files ending ``.jsonl``.

Output (https://docs.aws.amazon.com/bedrock/latest/userguide/batch-inference-results.html): one
``<input file name>.out`` per input file, each line ``{"recordId", "modelInput", "modelOutput":
{"embedding": [...], "inputTextTokenCount": n}}``, or with ``"error": {"errorCode",
"errorMessage"}`` in place of ``modelOutput`` for a record that failed; and ``manifest.json.out``
with the job's counts. The order of output lines is not guaranteed to follow the input, so every
result is matched by its recordId.

A record's id is a hash of the text it embeds, so the same text gets the same id in every run: a
re-run recognises its job's records and a text repeated in several chunks is embedded once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

RECORD_ID_CHARS = 24  # 96 bits of SHA-256: no collision in any corpus kotae will meet


def record_id(text: str) -> str:
    """The recordId of the record that embeds ``text`` (hex, so alphanumeric as Bedrock asks)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:RECORD_ID_CHARS]


def input_line(rid: str, model_input: dict[str, Any]) -> bytes:
    """One line of an input file, newline included."""
    return (json.dumps({"recordId": rid, "modelInput": model_input}, ensure_ascii=False) + "\n").encode()


class _Error(BaseModel):
    model_config = ConfigDict(extra="ignore")
    errorCode: int | str | None = None
    errorMessage: str | None = None


class _Output(BaseModel):
    model_config = ConfigDict(extra="ignore")
    embedding: list[float]


class _Line(BaseModel):
    model_config = ConfigDict(extra="ignore")
    recordId: str
    modelOutput: _Output | None = None
    error: _Error | None = None


@dataclass(frozen=True)
class Result:
    """One parsed output line: a vector, or the reason the record failed."""

    rid: str
    vector: list[float] | None
    error: str | None = None


class MalformedLine(ValueError):
    """An output line that is neither a result nor a record error of the documented format."""


def parse_output_line(raw: bytes | str, dimensions: int) -> Result:
    """Parse one output line; raises MalformedLine when it cannot be trusted."""
    try:
        line = _Line.model_validate_json(raw)
    except ValidationError as exc:
        raise MalformedLine(f"not a result line ({exc.error_count()} problem(s))") from exc
    if line.error is not None:
        return Result(line.recordId, None, f"{line.error.errorCode}: {line.error.errorMessage}")
    if line.modelOutput is None:
        raise MalformedLine("neither modelOutput nor error")
    if len(line.modelOutput.embedding) != dimensions:
        raise MalformedLine(f"an embedding of {len(line.modelOutput.embedding)} values, not {dimensions}")
    return Result(line.recordId, line.modelOutput.embedding)


class Manifest(BaseModel):
    """``manifest.json.out``: what the job says it did (read for the report only)."""

    model_config = ConfigDict(extra="ignore")
    totalRecordCount: int = 0
    processedRecordCount: int = 0
    successRecordCount: int = 0
    errorRecordCount: int = 0
    inputTokenCount: int = 0
