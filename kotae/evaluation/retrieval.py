"""Retrieval evaluation on BEIR-format sets: nDCG@k (graded gains), Recall@k and MRR@k.

corpus.jsonl ({"_id", "title", "text"}), queries.jsonl ({"_id", "text"}) and qrels/test.tsv
(query-id, corpus-id, score, with a header line). A document is relevant when its score >= 1.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kotae.errors import InputError
from kotae.models import Item

Qrels = dict[str, dict[str, int]]


@dataclass(frozen=True)
class BeirSet:
    corpus: list[dict[str, str]]
    queries: dict[str, str]
    qrels: Qrels


def _jsonl(path: Path) -> Iterable[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{number}: not JSON ({exc.msg})") from exc
            if not isinstance(row, dict) or "_id" not in row:
                raise InputError(f'{path}:{number}: a BEIR line needs an "_id"')
            yield row


def load_beir(directory: Path, split: str = "test") -> BeirSet:
    paths = {name: directory / name for name in ("corpus.jsonl", "queries.jsonl")}
    paths["qrels"] = directory / "qrels" / f"{split}.tsv"
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise InputError(f"not a BEIR directory, missing: {', '.join(missing)}")
    qrels: Qrels = {}
    with paths["qrels"].open(encoding="utf-8") as handle:
        for row in csv.reader(handle, delimiter="\t"):
            if len(row) < 3 or not row[2].strip().lstrip("-").isdigit():
                continue  # the header line, or a blank one
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    queries = {q["_id"]: q["text"] for q in _jsonl(paths["queries.jsonl"]) if q["_id"] in qrels}
    return BeirSet(list(_jsonl(paths["corpus.jsonl"])), queries, qrels)


def corpus_items(corpus: Sequence[dict[str, str]]) -> Iterable[Item]:
    for doc in corpus:
        yield Item(
            key=str(doc["_id"]),
            kind="passage",
            attributes={"title": doc.get("title", ""), "text": doc.get("text", "")},
        )


def dcg(gains: Sequence[float]) -> float:
    return sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(gains))


def ndcg_at_k(ranked: Sequence[str], relevant: dict[str, int], k: int) -> float:
    ideal = dcg(sorted(relevant.values(), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    return dcg([relevant.get(d, 0) for d in ranked[:k]]) / ideal


def recall_at_k(ranked: Sequence[str], relevant: dict[str, int], k: int) -> float:
    wanted = {d for d, g in relevant.items() if g >= 1}
    if not wanted:
        return 0.0
    return len(wanted & set(ranked[:k])) / len(wanted)


def mrr_at_k(ranked: Sequence[str], relevant: dict[str, int], k: int) -> float:
    for position, doc in enumerate(ranked[:k], start=1):
        if relevant.get(doc, 0) >= 1:
            return 1.0 / position
    return 0.0


def evaluate(
    search: Callable[[str], list[str]],
    queries: dict[str, str],
    qrels: Qrels,
    k: int = 10,
    progress: Callable[[], None] | None = None,
) -> dict[str, float]:
    """Mean metrics over the queries that have at least one relevant document."""
    totals = {"ndcg": 0.0, "recall": 0.0, "mrr": 0.0}
    counted = 0
    for qid, text in queries.items():
        relevant = qrels.get(qid, {})
        if not any(g >= 1 for g in relevant.values()):
            continue
        ranked = list(dict.fromkeys(search(text)))
        totals["ndcg"] += ndcg_at_k(ranked, relevant, k)
        totals["recall"] += recall_at_k(ranked, relevant, k)
        totals["mrr"] += mrr_at_k(ranked, relevant, k)
        counted += 1
        if progress:
            progress()
    n = max(counted, 1)
    return {
        f"ndcg@{k}": totals["ndcg"] / n,
        f"recall@{k}": totals["recall"] / n,
        f"mrr@{k}": totals["mrr"] / n,
        "queries": counted,
    }
