"""Record results as answers: exact figures from the store, listed records as numbered sources.

The extractive (offline) answer and the Slack reply state counts and groups exactly as the store
returned them; a language model, when one answers, gets the same figures as tool results.
"""

from __future__ import annotations

from kotae.models import Document
from kotae.records.query import RecordResult

NONE = "(none)"
# The model id of an answer the record query gave without a language model.
ANSWERED_BY_RECORDS = "records"
_ERROR_PREFIXES = ("Error:", "エラー:")


def _conditions(result: RecordResult, lang: str) -> str:
    query = result.query
    parts = [f"{facet} = {' / '.join(values)}" for facet, values in query.where.items()]
    if query.since is not None:
        parts.append(("since " if lang != "ja" else "開始 ") + query.since.isoformat())
    if query.until is not None:
        parts.append(("before " if lang != "ja" else "終了 ") + query.until.isoformat())
    return ", ".join(parts)


def record_line(source_id: str, doc: Document) -> str:
    """One listed record: its source id, title, status and the first error line, if any."""
    status = doc.facets.get("status")
    line = f"[{source_id}] {doc.title}" + (f" — {status}" if status else "")
    error = next((ln.strip() for ln in doc.text.splitlines() if ln.strip().startswith(_ERROR_PREFIXES)), None)
    return line + (f"\n    {error[:200]}" if error else "")


def group_table(groups: dict[str, object], by: list[str]) -> str:
    """Counts as a fenced monospace table: one facet gives rows, two give rows × columns."""
    if len(by) == 1:
        rows = [[by[0], "count"]] + [[str(k), str(v)] for k, v in groups.items()]
    else:
        columns = sorted({c for inner in groups.values() if isinstance(inner, dict) for c in inner})
        rows = [[f"{by[0]} \\ {by[1]}", *columns, "total"]]
        for value, inner in groups.items():
            counts = inner if isinstance(inner, dict) else {}
            rows.append([str(value), *(str(counts.get(c, 0)) for c in columns), str(sum(counts.values()))])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    return "```\n" + "\n".join(line.rstrip() for line in lines) + "\n```"


def _unknown_text(result: RecordResult, lang: str) -> str:
    lines = []
    for facet, closest in result.unknown.items():
        named = " / ".join(result.query.where.get(facet, [])) or "?"
        if lang == "ja":
            lines.append(f"{facet}「{named}」のレコードは、ここで参照できる範囲にありません。")
            if closest:
                lines.append("近いもの: " + ", ".join(closest))
        else:
            lines.append(f"No record you can see here has {facet} {named}.")
            if closest:
                lines.append("Closest: " + ", ".join(closest))
    return "\n".join(lines)


def _headline(result: RecordResult, lang: str) -> str:
    where = _conditions(result, lang)
    op, total = result.query.operation, result.total
    if lang == "ja":
        scope = f"条件（{where}）に一致する" if where else ""
        if op == "latest" and total:
            return f"{scope}最新のレコードです（該当 {total:,} 件）:"
        return f"{scope}レコードは {total:,} 件です。"
    scope = f" matching {where}" if where else ""
    noun = "record" if total == 1 else "records"
    if op == "latest" and total:
        return f"The latest record{scope} ({total:,} in total):"
    return f"{total:,} {noun}{scope}."


def _unfiltered(lang: str) -> str:
    if lang == "ja":
        return "実行IDなどの条件が指定されていないため、ここで参照できるすべてのレコードを対象にしています。"
    return "No execution or other filter was named, so this covers every record you can see here."


def record_answer_text(result: RecordResult, sources: list[tuple[str, Document]], lang: str) -> str:
    """The whole answer text; ``sources`` are the listed records with their source ids."""
    if result.unknown:
        return _unknown_text(result, lang)
    parts = [_headline(result, lang)]
    if result.unfiltered:
        parts.append(_unfiltered(lang))
    if result.query.operation == "group" and result.groups:
        parts.append(group_table(result.groups, result.query.group_by))
    elif sources:
        parts.append("\n".join(record_line(sid, doc) for sid, doc in sources))
        more = result.total - len(sources)
        if more > 0:
            parts.append(
                f"…ほか {more:,} 件（合計 {result.total:,} 件）"
                if lang == "ja"
                else f"…and {more:,} more ({result.total:,} in total)."
            )
    return "\n\n".join(parts)
