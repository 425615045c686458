"""Merge the two written parts of the ほしぞら市 FAQ dev set into one BEIR directory.

    python bench/datasets/hoshizora-faq/build.py [--out DIR]

Writes ``corpus.jsonl``, ``queries.jsonl``, ``qrels/test.tsv`` (with the BEIR header) and
``unanswerable.jsonl`` (questions no entry answers, for the answer-gate dev set). The parts were
written separately, so the grades that cross them (``parts/a/cross_qrels_suggested.tsv``) are
added here, and an "unanswerable" question that the other part does answer becomes an ordinary
question graded against it. Every id and grade is checked; a problem stops the build.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PARTS = ("a", "b")


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def read_qrels(path: Path) -> list[tuple[str, str, int]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("query-id"):
            query, doc, score = line.split("\t")
            rows.append((query, doc, int(score)))
    return rows


def build() -> tuple[list[dict], list[dict], list[tuple[str, str, int]], list[dict]]:
    corpus, queries, qrels, unanswerable = [], [], [], []
    for part in PARTS:
        base = HERE / "parts" / part
        corpus += read_jsonl(base / "corpus.jsonl")
        queries += read_jsonl(base / "queries.jsonl")
        qrels += read_qrels(base / "qrels.tsv")
        unanswerable += read_jsonl(base / "unanswerable.jsonl")
    cross = read_qrels(HERE / "parts" / "a" / "cross_qrels_suggested.tsv")
    answered = {query for query, _, score in cross if score >= 2}
    queries += [q for q in unanswerable if q["_id"] in answered]
    unanswerable = [q for q in unanswerable if q["_id"] not in answered]
    qrels += cross
    check(corpus, queries, qrels, unanswerable)
    return corpus, queries, sorted(set(qrels)), unanswerable


def check(
    corpus: list[dict], queries: list[dict], qrels: list[tuple[str, str, int]], unanswerable: list[dict]
) -> None:
    docs = {d["_id"] for d in corpus}
    asked = {q["_id"] for q in queries}
    problems = []
    if len(docs) != len(corpus) or len(asked) != len(queries):
        problems.append("duplicated ids")
    problems += [f"qrel {q} -> {d}: unknown id" for q, d, _ in qrels if q not in asked or d not in docs]
    answered = {q for q, _, score in qrels if score >= 2}
    problems += [f"{q} has no entry graded 2" for q in sorted(asked - answered)]
    problems += [
        f"unanswerable {q['_id']} is graded" for q in unanswerable if q["_id"] in {r[0] for r in qrels}
    ]
    if problems:
        sys.exit("hoshizora-faq: " + "; ".join(problems))


def write(out: Path) -> dict[str, int]:
    corpus, queries, qrels, unanswerable = build()
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    for name, rows in (
        ("corpus.jsonl", corpus),
        ("queries.jsonl", queries),
        ("unanswerable.jsonl", unanswerable),
    ):
        text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        (out / name).write_text(text, encoding="utf-8")
    lines = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t{s}" for q, d, s in qrels]
    (out / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {
        "corpus": len(corpus),
        "queries": len(queries),
        "qrels": len(qrels),
        "unanswerable": len(unanswerable),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE)
    print(json.dumps(write(parser.parse_args().out)))


if __name__ == "__main__":
    main()
