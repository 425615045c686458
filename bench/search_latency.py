"""`kotae search` latency on a synthetic embedded store of 10k and 100k chunks.

Builds each store once under bench/results/ (reused on later runs) from a synthetic Zipf
vocabulary of 20,000 words, 60 words a chunk, then times the search path
the CLI uses (tokenize, FTS5 BM25, exact k-NN over the vector matrix, fusion, relevance) for a
fixed set of queries, warm, and prints p50/p95 per size as one JSON line each. Vectors are random
unit vectors of 384 dimensions (the local model's size), so the k-NN cost is the real one without
needing the model.

    python bench/search_latency.py [--sizes 10000 100000] [--queries 200]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

import numpy as np

from kotae.answer.retrieval import Retriever
from kotae.models import Document, Filters
from kotae.providers.sqlite_store import SQLiteStore

# A Zipf-distributed vocabulary, as in real text: a few very common words, a long tail of rare
# ones. (A tiny uniform vocabulary would make every query match every chunk.)
VOCABULARY = [f"w{i}" for i in range(20_000)]
ZIPF = [1 / (rank + 1) for rank in range(len(VOCABULARY))]
DIMS = 384


class RandomEmbedder:
    name, dimensions, languages = "bench", DIMS, None

    def __init__(self, seed: int = 7) -> None:
        self.rng = np.random.default_rng(seed)

    def embed(self, texts, *, purpose="document"):
        vectors = self.rng.standard_normal((len(texts), DIMS)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors.tolist()


def build(path: Path, size: int) -> SQLiteStore:
    store = SQLiteStore(path)
    have = store.count()
    if have >= size:
        return store
    rng = random.Random(size)
    embedder = RandomEmbedder(size)
    for start in range(have, size, 1000):
        count = min(1000, size - start)
        vectors = embedder.embed(["x"] * count)
        for offset in range(count):
            i = start + offset
            words = rng.choices(VOCABULARY, weights=ZIPF, k=60)
            doc = Document(
                chunk_id=f"item-{i}#0000",
                item_key=f"item-{i}",
                kind="faq",
                title=" ".join(words[:6]),
                text=" ".join(words),
                scopes=["public" if i % 10 else "hr"],
                content_hash=str(i),
            )
            store.write(doc.item_key, [doc], {doc.chunk_id: vectors[offset]})
    return store


def measure(store: SQLiteStore, queries: int) -> dict[str, float]:
    retriever = Retriever(store, RandomEmbedder(1))
    rng = random.Random(42)
    texts = [" ".join(rng.choices(VOCABULARY, weights=ZIPF, k=rng.randint(3, 8))) for _ in range(queries)]
    retriever.search(texts[0], 5, Filters(scopes=("public",)))  # load the vector matrix once
    timings = []
    for text in texts:
        start = time.perf_counter()
        retriever.search(text, 5, Filters(scopes=("public",)))
        timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    return {
        "p50_ms": round(statistics.median(timings), 2),
        "p95_ms": round(timings[int(len(timings) * 0.95) - 1], 2),
        "queries": queries,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for size in args.sizes:
        started = time.perf_counter()
        store = build(args.out / f"search-{size}.sqlite3", size)
        built = time.perf_counter() - started
        result = {
            "bench": "search",
            "chunks": store.count(),
            "build_s": round(built, 1),
            **measure(store, args.queries),
        }
        print(json.dumps(result), flush=True)
        store.close()


if __name__ == "__main__":
    main()
