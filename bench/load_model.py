"""Many users on one embedded model: the serial engine against the batched one, same run.

    .venv/bin/python bench/load_model.py --json bench/results/load_model.json

For 1, 4 and 16 concurrent users, each user holds a short chat (a persona system prompt, then
`--turns` questions, each asked once the previous reply is complete, the history growing as it
does in the server) through `FairBackend.for_user(user)`, exactly as the server hands the model
to a turn. Two engines on the same GGUF, in one process:
  * serial: `LlamaCppBackend` behind `FairBackend(slots=1)` (one generation at a time);
  * batched: `BatchedLlamaBackend(slots=--slots)` behind `FairBackend(slots=--slots)`
    (16 users exceed the slots: the fair queue holds the rest).
The one-user level (the baseline of every ratio) serves the 4-user level's chats one after
another, each alone (`--baseline-chats`). Reported per engine and user count: aggregate
tokens/s (reply tokens, counted by re-tokenising the reply text the same way for both engines,
over the wall time of the level) and p95 time to
first token (from the request, queueing included), with their ratios to one user of the same
engine. Levels and engines alternate within each repeat, so a noisy neighbour on the shared
cores falls on all of them. Reply tokens per CPU-second of this process (`tokens_per_cpu_s`)
are reported beside them: on shared cores the wall clock measures the neighbours as much as
the engine, while CPU time mostly counts the engine's own work (what it cannot show: time
lost waiting). Sampling: temperature 0.7 with a fixed seed per turn, as the server samples.
The JSON records every setting, and for the batched engine how many prompt tokens it did not
evaluate because a slot's cache held them (`reused`, of which `copied` from another slot's).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
from contextlib import aclosing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Both engines in the same OpenMP conditions: the one BatchedLlamaBackend asks for (it must be
# set before llama_cpp loads libgomp, and the serial engine loads first).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from os1.backends.base import Backend, GenerationOptions  # noqa: E402
from os1.backends.batched import PROMPT_CHUNK, BatchedLlamaBackend  # noqa: E402
from os1.backends.fair import FairBackend  # noqa: E402
from os1.backends.llamacpp import LlamaCppBackend  # noqa: E402
from os1.config import load_config  # noqa: E402
from os1.events import TextDelta  # noqa: E402
from os1.messages import Message  # noqa: E402
from os1.runtime import resolve_model_path  # noqa: E402

PERSONA = (
    "You are Samantha, a warm and curious companion who lives on this person's computer. You "
    "remember what they tell you, you ask one thoughtful question at a time, and you keep your "
    "replies short, kind and concrete. You never pretend to have done things you cannot do. "
    "When they are stressed you slow down; when they are excited you share it. "
    "You are talking with {name}."
)
TEMPERATURE = 0.7  # the server's default (Config.temperature)
QUESTIONS = [
    "Hi! I had a long day at work and I'm a bit tired.",
    "Can you suggest something relaxing I could cook for dinner tonight?",
    "Thanks. Also, remind me why sleep matters so much for memory?",
    "What is one small thing I could do tomorrow morning to start the day better?",
]


@dataclass
class Tally:
    """One engine at one level, summed over the repeats."""

    wall: float = 0.0
    cpu: float = 0.0
    tokens: int = 0  # reply tokens
    ttfts: list[float] = field(default_factory=list)
    reused: int = 0  # prompt tokens a cache held
    copied: int = 0


def cpu_seconds() -> float:
    """CPU time of this process so far, all threads (llama.cpp's included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def chat(
    backend: Backend, name: str, turns: int, max_tokens: int, seed: int
) -> tuple[list[float], int]:
    """One user's conversation: the time to first token of each turn, and reply tokens."""
    history = [Message("system", PERSONA.format(name=name))]
    ttfts: list[float] = []
    tokens = 0
    for turn in range(turns):
        history.append(Message("user", QUESTIONS[turn % len(QUESTIONS)]))
        options = GenerationOptions(
            max_tokens=max_tokens, temperature=TEMPERATURE, seed=seed + turn
        )
        start = time.monotonic()
        first: float | None = None
        parts: list[str] = []
        async with aclosing(backend.stream(history, options)) as events:
            async for event in events:
                if isinstance(event, TextDelta):
                    if first is None:
                        first = time.monotonic() - start
                    parts.append(event.text)
        reply = "".join(parts)
        ttfts.append(first if first is not None else time.monotonic() - start)
        tokens += backend.count_tokens(reply) if reply else 0
        history.append(Message("assistant", reply))
    return ttfts, tokens


async def level(fair: FairBackend, users: int, round_: int, args: argparse.Namespace) -> Any:
    """`users` chats at once. One user is the baseline: the first `--baseline-chats` users'
    chats, the same conversations the 4-user level holds, served one after another (a single
    chat is 3 replies, too few: the length of one reply moved the ratio by ±0.15)."""

    def one(i: int) -> Any:
        return chat(fair.for_user(f"u{i}"), f"User{round_}x{i}", args.turns, args.tokens, 100 * i)

    start, cpu = time.monotonic(), cpu_seconds()
    if users == 1:
        results = [await one(i) for i in range(args.baseline_chats)]
    else:
        results = await asyncio.gather(*(one(i) for i in range(users)))
    wall, cpu = time.monotonic() - start, cpu_seconds() - cpu
    return wall, cpu, sum(t for _, t in results), [f for ttfts, _ in results for f in ttfts]


def cache_counts(fair: FairBackend) -> tuple[int, int]:
    """Prompt tokens the engine has not evaluated so far thanks to cached prefixes, and how many
    of those it copied from another slot (the batched engine counts them; the serial one not)."""
    inner = fair.inner
    return getattr(inner, "reused_tokens", 0), getattr(inner, "copied_tokens", 0)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    path = resolve_model_path(load_config(model=args.model))
    threads = args.threads or os.cpu_count() or 2
    engines: dict[str, FairBackend] = {
        "serial": FairBackend(
            LlamaCppBackend(path, n_ctx=args.n_ctx, n_threads=threads),
            slots=1,
            per_user=4,
            total=256,
            max_wait=3600,
        ),
        "batched": FairBackend(
            BatchedLlamaBackend(
                path,
                slots=args.slots,
                n_ctx=args.n_ctx,
                n_threads=threads,
                prompt_chunk=args.prompt_chunk,
            ),
            slots=args.slots,
            per_user=4,
            total=256,
            max_wait=3600,
        ),
    }
    levels = [int(x) for x in args.users.split(",")]
    totals = {e: {n: Tally() for n in levels} for e in engines}
    try:
        for fair in engines.values():  # warm up: page the weights in, first-use costs
            await chat(fair, "Warmup", 1, 8, 1)
        for round_ in range(args.repeats):
            order = list(engines) if round_ % 2 == 0 else list(reversed(engines))
            for n in levels:
                for name in order:
                    before = cache_counts(engines[name])
                    wall, cpu, tokens, ttfts = await level(engines[name], n, round_, args)
                    after = cache_counts(engines[name])
                    tally = totals[name][n]
                    tally.wall += wall
                    tally.cpu += cpu
                    tally.tokens += tokens
                    tally.ttfts += ttfts
                    tally.reused += after[0] - before[0]
                    tally.copied += after[1] - before[1]
                    print(
                        f"round {round_} {name:7} users={n:2}: {tokens / wall:6.2f} tok/s, "
                        f"{tokens / cpu:6.2f} tok/cpu-s, "
                        f"ttft p95 {pct(ttfts, 0.95) * 1000:7.0f} ms",
                        file=sys.stderr,
                        flush=True,
                    )
    finally:
        for fair in engines.values():
            fair.close()
    rows: dict[str, dict[str, dict[str, float]]] = {}
    for name, by_n in totals.items():
        tps = {n: by_n[n].tokens / by_n[n].wall for n in levels}
        tpc = {n: by_n[n].tokens / by_n[n].cpu for n in levels}
        p95 = {n: pct(by_n[n].ttfts, 0.95) * 1000 for n in levels}
        base = levels[0]
        rows[name] = {
            str(n): {
                "tokens_per_s": round(tps[n], 2),
                "throughput_ratio": round(tps[n] / tps[base], 2),
                "tokens_per_cpu_s": round(tpc[n], 2),
                "cpu_throughput_ratio": round(tpc[n] / tpc[base], 2),
                "ttft_ms_p95": round(p95[n], 1),
                "ttft_p95_ratio": round(p95[n] / p95[base], 2),
                "turns": len(by_n[n].ttfts),
                **(
                    {"reused": by_n[n].reused, "copied": by_n[n].copied}
                    if name == "batched"
                    else {}
                ),
            }
            for n in levels
        }
    summary: dict[str, Any] = {
        "engine": {
            "serial": "LlamaCppBackend (llama-cpp-python Llama), FairBackend slots=1",
            "batched": f"BatchedLlamaBackend slots={args.slots}, FairBackend slots={args.slots}",
        },
        "model": args.model,
        "cpus": os.cpu_count(),
        "threads": threads,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "users": levels,
        "turns_per_user": args.turns,
        "baseline_chats": args.baseline_chats,
        "max_tokens": args.tokens,
        "repeats": args.repeats,
        "slots": args.slots,
        "n_ctx": args.n_ctx,
        "prompt_chunk": args.prompt_chunk,
        "temperature": TEMPERATURE,
        "tokens_per_s": {e: {n: r["tokens_per_s"] for n, r in rows[e].items()} for e in rows},
        "ttft_ms_p95": {e: {n: r["ttft_ms_p95"] for n, r in rows[e].items()} for e in rows},
        "by_engine": rows,
    }
    if 4 in levels:
        summary["throughput_ratio_4"] = {e: rows[e]["4"]["throughput_ratio"] for e in rows}
        summary["cpu_throughput_ratio_4"] = {e: rows[e]["4"]["cpu_throughput_ratio"] for e in rows}
    return summary


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", default="default", help="a profile (default, fast, tiny) or a GGUF")
    p.add_argument("--users", default="1,4,16")
    p.add_argument("--turns", type=int, default=3, help="chat turns per user")
    p.add_argument("--tokens", type=int, default=48, help="max tokens per reply")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument(
        "--baseline-chats", type=int, default=4, help="chats the one-user level serves in turn"
    )
    p.add_argument("--slots", type=int, default=4, help="the batched engine's slots")
    p.add_argument("--threads", type=int, help="llama.cpp threads (default: all cores)")
    p.add_argument("--n-ctx", type=int, default=2048, help="context per user (per slot)")
    p.add_argument(
        "--prompt-chunk", type=int, default=PROMPT_CHUNK, help="the batched engine's prompt chunk"
    )
    p.add_argument("--json", type=Path, help="write the results here")
    args = p.parse_args()
    summary = asyncio.run(run(args))
    text = json.dumps(summary, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
