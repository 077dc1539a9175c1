"""Retrieval latency of long-term memory for one user holding 1k, 10k and 100k memories.

    python bench/memory_scale.py --json bench/results/memory_scale.json

Memories are synthetic sentences stored through the real store (rows, FTS5, float16 vector
BLOBs); to keep the run short, their embeddings are real MiniLM embeddings of a pool of 2,000
distinct sentences, reused across rows (each row's text is still unique). Queries go through
`LongTermMemory.recall` — the path `notes_for` uses — and are embedded live each time.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from os1.memory import LongTermMemory, NewMemory
from os1.memory.embedder import shared_embedder
from os1.memory.retrieval import RESCORE
from os1.storage.accounts import Accounts

PEOPLE = [
    "Anna",
    "Ben",
    "Chloe",
    "Dev",
    "Elif",
    "Femi",
    "Gus",
    "Hana",
    "Ivo",
    "Jun",
    "Kai",
    "Lena",
    "Milo",
    "Nora",
    "Omar",
    "Pia",
]
THINGS = [
    "pottery",
    "hiking",
    "jazz",
    "sourdough",
    "chess",
    "cycling",
    "tango",
    "painting",
    "gardening",
    "sailing",
]
PLACES = ["Lisbon", "Porto", "Berlin", "Osaka", "Lima", "Accra", "Oslo", "Quito", "Riga", "Seoul"]
VERBS = ["talked about", "went to a class on", "complained about", "got excited about", "planned"]


def sentence(rng: random.Random) -> str:
    return (
        f"{rng.choice(PEOPLE)} {rng.choice(VERBS)} {rng.choice(THINGS)} in "
        f"{rng.choice(PLACES)} with {rng.choice(PEOPLE)}"
    )


def dense_overlap(memory: LongTermMemory, queries: list[str]) -> float:
    """Share of the exact dense top 10 that the approximate stage + exact rescoring keeps
    (by score: the pool reuses vectors, so equal scores are interchangeable)."""
    vectors = memory.memories.index.vectors
    everything = np.arange(len(vectors))
    kept = []
    for q in queries:
        query = memory.memories.embedder.embed([q])[0]
        tenth = np.sort(vectors.exact(query, everything))[-10]
        best = np.argsort(-vectors.scores(query))[:RESCORE]
        rescored = np.sort(vectors.exact(query, best))[-10:]
        kept.append(float((rescored >= tenth - 1e-6).mean()))
    return round(statistics.mean(kept), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args()
    rng = random.Random(7)
    embedder = shared_embedder()
    pool = [sentence(rng) + f" ({i})" for i in range(2000)]
    pool_vectors = embedder.embed(pool)
    queries = [f"when did {rng.choice(PEOPLE)} do {rng.choice(THINGS)}?" for _ in range(200)]
    result: dict[str, object] = {"pool_sentences": len(pool), "queries": args.queries}
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as home:
        accounts = Accounts(Path(home))
        store = accounts.open_store(accounts.create_user("scale"))
        memory = LongTermMemory(store, embedder, None, model_extraction="off")
        size = 0
        insert_s = 0.0
        for target, label in ((1_000, "1k"), (10_000, "10k"), (100_000, "100k")):
            t0 = time.perf_counter()
            while size < target:
                n = min(1000, target - size)
                items = [
                    NewMemory(
                        kind="turn",
                        text=f"{pool[(size + i) % len(pool)]} #{size + i}",
                        sources=(),
                        occurred_at=start + timedelta(minutes=size + i),
                        origin="conversation",
                        session_id=(size + i) // 50,
                    )
                    for i in range(n)
                ]
                idx = [(size + i) % len(pool) for i in range(n)]
                memory.memories.add(items, pool_vectors[idx])
                size += n
            insert_s += time.perf_counter() - t0
            now = start + timedelta(minutes=size + 1)
            memory.recall(queries[0], now)  # load the vector index
            times = []
            for q in queries[: args.queries]:
                t = time.perf_counter()
                memory.recall(q, now, k=10)
                times.append((time.perf_counter() - t) * 1000)
            times.sort()
            if memory.memories.index.vectors.approximate:
                result[f"dense_top10_overlap_{label}"] = dense_overlap(memory, queries[:20])
            result[f"retrieval_ms_p50_{label}"] = round(statistics.median(times), 2)
            result[f"retrieval_ms_p95_{label}"] = round(times[int(0.95 * (len(times) - 1))], 2)
            print(label, result[f"retrieval_ms_p50_{label}"], result[f"retrieval_ms_p95_{label}"])
        result["insert_ms_per_memory"] = round(insert_s * 1000 / size, 3)
        db_file = Path(home) / "users"
        result["db_mb_100k"] = round(
            sum(p.stat().st_size for p in db_file.rglob("*") if p.is_file()) / 1e6, 1
        )
        memory.close()
        accounts.close()
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
