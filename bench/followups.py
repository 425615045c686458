"""Follow-up retrieval: hit rate of thread follow-ups alone, with the thread heuristic, and
rewritten into standalone queries (kotae.answer.condense).

Each conversation of samples/eval/conversations.jsonl is a first question, a short answer, and a
follow-up that only makes sense after them, with the entries that answer the follow-up and the
standalone query a model should write for it (``rewrite``). The rewrites go through the real
path: condense renders prompts/condense/v1.j2 and calls Converse through a real botocore client
on the Bedrock stand-in, which replies with the scripted rewrite, so what is measured is the
retrieval those rewrites give (not a model's skill at writing them). Retrieval is the embedded
default (SQLite, lexical) over samples/knowledge.jsonl. Prints one JSON line.

    python bench/followups.py [--k 5]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel, Field

from kotae.answer.condense import condense
from kotae.answer.prompts import PromptRegistry
from kotae.answer.retrieval import Retriever
from kotae.app import Kotae
from kotae.models import Item, Turn
from kotae.providers.base import Generator
from kotae.providers.generators import BedrockGenerator, ExtractiveGenerator
from kotae.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
CONVERSATIONS = ROOT / "samples" / "eval" / "conversations.jsonl"
KNOWLEDGE = ROOT / "samples" / "knowledge.jsonl"
MODEL = "jp.anthropic.claude-haiku-4-5-20251001-v1:0"


class Conversation(BaseModel):
    id: str
    lang: str
    turns: list[Turn] = Field(min_length=1)
    followup: str = Field(min_length=1)
    expected_keys: list[str] = Field(min_length=1)
    rewrite: str = Field(min_length=1)


def load_conversations(path: Path = CONVERSATIONS) -> list[Conversation]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [Conversation.model_validate_json(line) for line in lines if line.strip()]


def hit_rates(found: Sequence[Sequence[str]], expected: Sequence[Sequence[str]], k: int) -> dict[str, float]:
    """hit@1 and hit@k: the share of cases with an expected key first / among the first k."""
    pairs = list(zip(found, expected, strict=True))
    first = sum(bool(keys[:1]) and keys[0] in want for keys, want in pairs)
    within = sum(bool(set(keys[:k]) & set(want)) for keys, want in pairs)
    return {"hit@1": round(first / len(pairs), 3), f"hit@{k}": round(within / len(pairs), 3)}


def measure(
    retriever: Retriever,
    prompts: PromptRegistry,
    llm: Generator,
    script: Callable[[str], None],
    conversations: Sequence[Conversation],
    k: int = 5,
) -> dict[str, object]:
    """Hit rates of the follow-ups: alone, heuristic (offline), rewritten (``llm``, whose next
    reply ``script(text)`` sets)."""
    offline = ExtractiveGenerator()
    found: dict[str, list[list[str]]] = {"alone": [], "heuristic": [], "rewritten": []}
    rewritten = 0
    for case in conversations:
        queries = {
            "alone": case.followup,
            "heuristic": condense(case.followup, case.turns, offline, prompts).query,
        }
        script(case.rewrite)
        condensed = condense(case.followup, case.turns, llm, prompts)
        rewritten += condensed.rewritten
        queries["rewritten"] = condensed.query
        for name, query in queries.items():
            found[name].append([h.document.item_key for h in retriever.search(query, k, relevance=False)])
    expected = [c.expected_keys for c in conversations]
    report: dict[str, object] = {name: hit_rates(keys, expected, k) for name, keys in found.items()}
    for lang in sorted({c.lang for c in conversations}):
        idx = [i for i, c in enumerate(conversations) if c.lang == lang]
        report[lang] = {
            name: hit_rates([keys[i] for i in idx], [expected[i] for i in idx], k)
            for name, keys in found.items()
        }
    return {"conversations": len(conversations), "rewrites_used": rewritten, **report}


def loaded_kotae(data_dir: Path) -> Kotae:
    """The embedded default (SQLite, no embedder) with the sample knowledge indexed."""
    app = Kotae(load_settings(data_dir=data_dir, prompts_dir=ROOT / "prompts"))
    for line in KNOWLEDGE.read_text(encoding="utf-8").splitlines():
        if line.strip():
            app.indexer.index(Item.from_mapping(json.loads(line)))
    return app


def main() -> None:
    from tests.standins.bedrock import bedrock_standin, runtime_client

    parser = argparse.ArgumentParser()
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, bedrock_standin() as bedrock:
        app = loaded_kotae(Path(tmp))
        llm = BedrockGenerator(runtime_client(bedrock.url), model_id=MODEL)
        report = measure(
            app.retriever, app.prompts, llm, bedrock.answers.append, load_conversations(), args.k
        )
        app.close()
    print(json.dumps(report, ensure_ascii=False))


if __name__ == "__main__":
    main()
