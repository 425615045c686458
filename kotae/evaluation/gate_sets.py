"""Gate dev sets: a retrieval benchmark whose knowledge is made silent on half of its questions.

From a BEIR set, a seeded random sample of its judged questions is taken; questions are drawn
from it in a seeded order and every document relevant to a drawn one (qrels score >= 1) is
removed from the corpus, until half the sample has no relevant document left. Those are the
unanswerable questions (the right outcome: "not found"); the others keep at least one relevant
document (the right outcome: an answer citing one). Removing a document can silence a question
that was not drawn (several questions share a FAQ entry); it is then unanswerable too, which is
why the halves are counted on what is left, not on what was drawn. A directory may hold an
``unanswerable.jsonl`` (BEIR query lines) of questions with no answer in the corpus at all; they
join the unanswerable side as they are.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kotae.errors import InputError
from kotae.evaluation.retrieval import BeirSet, load_beir


@dataclass(frozen=True)
class GateQuestion:
    id: str
    text: str
    relevant: frozenset[str]  # empty for an unanswerable question


@dataclass(frozen=True)
class GateSet:
    name: str
    corpus: list[dict[str, str]]
    answerable: list[GateQuestion]
    unanswerable: list[GateQuestion]
    removed: frozenset[str]

    @property
    def questions(self) -> list[GateQuestion]:
        return [*self.answerable, *self.unanswerable]


def relevant_documents(data: BeirSet) -> dict[str, frozenset[str]]:
    """Each query's relevant documents (score >= 1) among those in the corpus; queries with none
    are left out, as no outcome of theirs could be right."""
    known = {str(doc["_id"]) for doc in data.corpus}
    relevant = {
        query: frozenset(doc for doc, score in judged.items() if score >= 1 and doc in known)
        for query, judged in data.qrels.items()
        if query in data.queries
    }
    return {query: docs for query, docs in relevant.items() if docs}


def silence_half(relevant: dict[str, frozenset[str]], order: Sequence[str]) -> frozenset[str]:
    """The documents to remove: those of the questions in ``order``, drawn one by one until half
    of ``relevant``'s questions have no relevant document left."""
    removed: set[str] = set()
    target = len(relevant) // 2
    for query in order:
        if sum(1 for docs in relevant.values() if docs <= removed) >= target:
            break
        removed |= relevant[query]
    return frozenset(removed)


def build_gate_set(data: BeirSet, *, seed: int = 13, limit: int | None = None, name: str = "") -> GateSet:
    """The gate set of ``data``: a seeded sample of ``limit`` questions (all without one), half of
    them silenced by removing their relevant documents. The same seed gives the same set."""
    relevant = relevant_documents(data)
    rng = random.Random(seed)
    sample = sorted(relevant)
    rng.shuffle(sample)
    sample = sample[:limit] if limit else sample
    chosen = {query: relevant[query] for query in sample}
    removed = silence_half(chosen, sample)
    answerable, unanswerable = [], []
    for query in sample:
        kept = chosen[query] - removed
        question = GateQuestion(query, data.queries[query], kept)
        (answerable if kept else unanswerable).append(question)
    corpus = [doc for doc in data.corpus if str(doc["_id"]) not in removed]
    return GateSet(name, corpus, answerable, unanswerable, removed)


def load_unanswerable(path: Path) -> list[GateQuestion]:
    """BEIR query lines ({"_id", "text"}) of questions the corpus does not answer."""
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            questions.append(GateQuestion(f"u:{row['_id']}", str(row["text"]), frozenset()))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise InputError(f'{path}:{number}: an unanswerable line needs "_id" and "text" ({exc})') from exc
    return questions


def load_gate_set(directory: Path, *, seed: int = 13, limit: int | None = None) -> GateSet:
    """The gate set of a BEIR directory, with its ``unanswerable.jsonl`` when there is one."""
    built = build_gate_set(load_beir(directory), seed=seed, limit=limit, name=directory.name)
    extra = directory / "unanswerable.jsonl"
    if not extra.is_file():
        return built
    more = load_unanswerable(extra)
    return GateSet(built.name, built.corpus, built.answerable, [*built.unanswerable, *more], built.removed)
