"""LLM benchmark: time to first token and generation speed through os1's `run_turn`, against
the same prompts through raw llama-cpp-python, measured in the same run.

For each profile (a fresh child process each, so peak RSS is that profile's alone) the script
loads the model twice — once behind os1's LlamaCppBackend, once as a bare `llama_cpp.Llama` —
and plays one conversation through `run_turn` (prompt building, storage with fsync, the fair
queue, streaming; long-term memory is left out here — its retrieval time is in the memory
benchmark). Turn by turn both sides get exactly the same prompt (asserted) and take turns going
first, so both reuse their KV cache the same way and machine noise falls on both. Greedy
decoding with the same repeat penalty makes both produce the same tokens.

    python bench/llm.py --json bench/results/llm.json [--profiles default fast] [--turns 6]

Keys per profile: ttft_ms_first_turn, ttft_ms_later_turn (median), tokens_per_s,
raw_tokens_per_s, overhead_ratio (os1 time / raw time, whole turns), peak_rss_mb (os1 side,
measured before the raw instance is loaded), plus raw_* counterparts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

TURNS = [
    "Hi! I just got back from a long walk on the beach. Tell me something lovely about the sea.",
    "I've been thinking about my sister Anna. We haven't talked in months. What could I say?",
    "Can you help me plan a quiet Sunday, hour by hour?",
    "Write me a short poem about autumn light.",
    "What do you think makes a friendship last for decades?",
    "Tell me a short story about a lighthouse keeper and a cat.",
    "Which of those ideas for Sunday would you pick, and why?",
    "Thank you. Say something kind to end the day.",
]
MAX_TOKENS = 128


def rss_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run_profile(profile: str, turns: int) -> dict[str, Any]:
    from llama_cpp import Llama

    from os1.backends.base import GenerationOptions
    from os1.backends.fair import FairBackend
    from os1.backends.llamacpp import REPEAT_PENALTY, LlamaCppBackend
    from os1.config import default_home, load_config
    from os1.conversation import prompt_for, run_turn
    from os1.events import TextDelta
    from os1.messages import Message
    from os1.persona.identity import ONBOARDED, Identity
    from os1.runtime import Runtime, resolve_model_path

    home = Path(tempfile.mkdtemp(prefix="os1-bench-"))
    cache = os.environ.get("OS1_MODEL_CACHE") or str(default_home() / "cache" / "models")
    config = load_config(
        {**os.environ, "OS1_HOME": str(home), "OS1_MODEL_CACHE": cache},
        model=profile,
        temperature=0.0,
        max_reply_tokens=MAX_TOKENS,
        n_ctx=4096,
    )
    path = resolve_model_path(config)
    threads = config.n_threads

    class Recording(LlamaCppBackend):
        prompts: ClassVar[list[list[Message]]] = []

        def stream(self, messages, options):  # type: ignore[no-untyped-def,override]
            self.prompts.append(list(messages))
            return super().stream(messages, options)

    ours = Recording(path, n_ctx=4096, n_threads=threads)
    # The live chat path: the embedded model behind the fair queue, as build_backend wires it.
    runtime = Runtime(config, backend=FairBackend(ours), memory_factory=None)
    ctx = runtime.context(runtime.user("bench"))
    ctx.store.save_identity(
        Identity("Samantha", "joe", "Theo", ONBOARDED, {"days": "writing letters for other people"})
    )

    raw: Any = None

    async def warm_engine() -> None:  # library and engine warm-up, unrelated to the chat
        from os1.backends.base import collect_text

        await collect_text(
            ours,
            [Message("user", "Count to three.")],
            GenerationOptions(max_tokens=8, temperature=0.0),
        )

    await warm_engine()
    rows: list[dict[str, float]] = []
    peak_ours = 0.0

    async def os1_turn(text: str) -> tuple[float, float, float, str]:
        start = time.perf_counter()
        first = 0.0
        pieces: list[str] = []
        async for event in run_turn(ctx, text):
            if isinstance(event, TextDelta):
                if not first:
                    first = time.perf_counter()
                pieces.append(event.text)
        return start, first, time.perf_counter(), "".join(pieces)

    def raw_turn(prompt: list[dict[str, str]]) -> tuple[float, float, float, str]:
        start = time.perf_counter()
        first = 0.0
        pieces: list[str] = []
        for chunk in raw.create_chat_completion(
            messages=prompt,
            stream=True,
            max_tokens=MAX_TOKENS,
            temperature=0.0,
            repeat_penalty=REPEAT_PENALTY,
        ):
            delta = chunk["choices"][0].get("delta", {}).get("content")
            if delta:
                if not first:
                    first = time.perf_counter()
                pieces.append(delta)
        return start, first, time.perf_counter(), "".join(pieces)

    def next_prompt(text: str) -> list[dict[str, str]]:
        """The prompt run_turn will send for `text`, built by the same function."""
        built = prompt_for(ctx, text, history=ctx.store.messages(limit=400))
        return [{"role": m.role, "content": m.content} for m in built.messages]

    # Turn 1 loads the bare model after os1's turn (so os1's peak RSS is its own); from then
    # on the order alternates, so neither side always runs on a machine the other just used.
    for i in range(turns):
        text = TURNS[i % len(TURNS)]
        if raw is None:
            start, first, end, reply = await os1_turn(text)
            peak_ours = rss_peak_mb()
            raw = Llama(model_path=str(path), n_ctx=4096, n_threads=threads, verbose=False)
            raw.create_chat_completion(
                messages=[{"role": "user", "content": "Count to three."}],
                max_tokens=8,
                temperature=0.0,
            )
            r_start, r_first, r_end, r_reply = raw_turn(
                [{"role": m.role, "content": m.content} for m in ours.prompts[-1]]
            )
        elif i % 2:
            prompt = next_prompt(text)
            r_start, r_first, r_end, r_reply = raw_turn(prompt)
            start, first, end, reply = await os1_turn(text)
            sent = [{"role": m.role, "content": m.content} for m in ours.prompts[-1]]
            assert sent == prompt, "the bare model must get exactly os1's prompt"
        else:
            start, first, end, reply = await os1_turn(text)
            r_start, r_first, r_end, r_reply = raw_turn(
                [{"role": m.role, "content": m.content} for m in ours.prompts[-1]]
            )
        pieces, r_pieces = [reply], [r_reply]
        tokens = ours.count_tokens("".join(pieces))
        r_tokens = ours.count_tokens("".join(r_pieces))
        rows.append(
            {
                "ttft_ms": (first - start) * 1000,
                "total_s": end - start,
                "tokens": tokens,
                "gen_s": end - first,
                "raw_ttft_ms": (r_first - r_start) * 1000,
                "raw_total_s": r_end - r_start,
                "raw_tokens": r_tokens,
                "raw_gen_s": r_end - r_first,
                "same_text": float("".join(pieces).strip() == "".join(r_pieces).strip()),
            }
        )
        print(
            f"  {profile} turn {i + 1}: ttft {rows[-1]['ttft_ms']:.0f} ms "
            f"(raw {rows[-1]['raw_ttft_ms']:.0f}), {tokens} tok in {end - start:.2f}s "
            f"(raw {r_tokens} in {r_end - r_start:.2f}s)",
            file=sys.stderr,
        )
    runtime.close()
    later = rows[1:]
    return {
        "model": path.name,
        "turns": turns,
        "n_threads": threads,
        "max_tokens": MAX_TOKENS,
        "ttft_ms_first_turn": round(rows[0]["ttft_ms"], 1),
        "ttft_ms_later_turn": round(statistics.median(r["ttft_ms"] for r in later), 1),
        "raw_ttft_ms_first_turn": round(rows[0]["raw_ttft_ms"], 1),
        "raw_ttft_ms_later_turn": round(statistics.median(r["raw_ttft_ms"] for r in later), 1),
        "tokens_per_s": round(sum(r["tokens"] for r in rows) / sum(r["gen_s"] for r in rows), 2),
        "raw_tokens_per_s": round(
            sum(r["raw_tokens"] for r in rows) / sum(r["raw_gen_s"] for r in rows), 2
        ),
        "overhead_ratio": round(
            sum(r["total_s"] for r in rows) / sum(r["raw_total_s"] for r in rows), 4
        ),
        "identical_replies": int(sum(r["same_text"] for r in rows)),
        "peak_rss_mb": round(peak_ours, 1),
        "turn_rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="write the summary here")
    parser.add_argument("--profiles", nargs="+", default=["default", "fast"])
    parser.add_argument("--turns", type=int, default=6)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(run_profile(args.child, args.turns))))
        return
    results: dict[str, Any] = {
        "benchmark": "llm",
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "profiles": {},
    }
    for profile in args.profiles:
        print(f"profile {profile}:", file=sys.stderr)
        out = subprocess.run(
            [sys.executable, __file__, "--child", profile, "--turns", str(args.turns)],
            check=True,
            capture_output=False,
            stdout=subprocess.PIPE,
            text=True,
        ).stdout
        results["profiles"][profile] = json.loads(out.strip().splitlines()[-1])
    summary = json.dumps(results, indent=2)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(summary + "\n")
    for name, r in results["profiles"].items():
        print(
            f"{name}: ttft first {r['ttft_ms_first_turn']} ms, later {r['ttft_ms_later_turn']} ms,"
            f" {r['tokens_per_s']} tok/s (raw {r['raw_tokens_per_s']}),"
            f" overhead {r['overhead_ratio']}, peak RSS {r['peak_rss_mb']} MB"
        )


if __name__ == "__main__":
    main()
