"""Retrieval latency of long-term memory for one user holding 1k, 10k and 100k memories.

    python bench/memory_scale.py --json bench/results/memory_scale.json

Memories are synthetic sentences stored through the real store (rows, FTS5, float16 vector
BLOBs); to keep the run short, their embeddings are real MiniLM embeddings of a pool of 2,000
distinct sentences, reused across rows (each row's text is still unique). Queries are shaped
like LoCoMo's questions (a name or two, a topic, often a time expression: "last Tuesday", "in
May 2024", "before the trip to Lisbon", which resolves through an anchor search) and go through
`LongTermMemory.notes_for`, the live-chat path, embedded live each time; the first query (which
loads the index) is not timed.
"""

from __future__ import annotations

import argparse
import asyncio
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
MONTHS = ["January", "March", "May", "July", "October", "December"]
DAYS = ["Monday", "Tuesday", "Friday", "Sunday"]
QUESTIONS = [
    "When did {p} go to the {t} class in {place}?",
    "What did {p} say about {t} last {day}?",
    "How many times has {p} talked about {t} with {q}?",
    "What does {p} think about {t} since {month}?",
    "Which city did {p} visit before the trip to {place}?",
    "Did {p} and {q} plan anything in {month} 2024?",
    "What has {p} been up to recently?",
    "Who went {t} with {p} in {place} 3 weeks ago?",
    "Why did {p} get excited about {t} after the trip to {place}?",
    "What kind of {t} does {p} like, and where did {q} learn it?",
]


def sentence(rng: random.Random) -> str:
    return (
        f"{rng.choice(PEOPLE)} {rng.choice(VERBS)} {rng.choice(THINGS)} in "
        f"{rng.choice(PLACES)} with {rng.choice(PEOPLE)}"
    )


def question(rng: random.Random) -> str:
    """A LoCoMo-like question about the synthetic memories."""
    p, q = rng.sample(PEOPLE, 2)
    return rng.choice(QUESTIONS).format(
        p=p,
        q=q,
        t=rng.choice(THINGS),
        place=rng.choice(PLACES),
        day=rng.choice(DAYS),
        month=rng.choice(MONTHS),
    )


async def timed(memory: LongTermMemory, queries: list[str], now: datetime) -> list[float]:
    """Milliseconds of `notes_for` per query (after one untimed call that loads the index)."""
    await memory.notes_for("What did Anna say about jazz?", now)
    times = []
    for q in queries:
        t = time.perf_counter()
        await memory.notes_for(q, now)
        times.append((time.perf_counter() - t) * 1000)
    return times


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
    queries = [question(rng) for _ in range(200)]
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
            times = sorted(asyncio.run(timed(memory, queries[: args.queries], now)))
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
