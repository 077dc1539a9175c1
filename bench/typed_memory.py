"""Typed turns with long-term memory on: time to first token with earlier turns' notes kept in
place (each turn shows only the note lines new to the prompt) against the whole notes shown
again every turn, measured in the same run.

Per profile (a fresh child process): the user is known from two earlier sessions (LIFE from
bench/voice.py: 18 things they said), memory on with model extraction off (deterministic
extraction, so all three conversations learn the same); then the eight chat turns of bench/llm.py
go through `run_turn` four times, as four users on one model, one conversation after another
(`kept`: the notes kept in place; `whole`: `Memory.shown()` emptied, which is how every turn
was prompted before the seventh pass; `prepared`: kept in place, and the terminal chat's
preparation while the user types (os1.typing_ahead: notes chosen from the last exchange and
evaluated during TYPING_S seconds before each message, topped up with two lines for it;
`prepared_web`: the same preparation as the web chat runs it, a task on the event loop the turns
run on, started when the browser says the user began typing: os1.server.websocket). The
model is greedy; the first turn of each pays the cold prompt and is reported apart. Keys per
profile: ttft_ms_later_turn (median of turns 2..8) per mode, ratios to `whole`, and the note
tokens each turn showed.

    python bench/typed_memory.py --json bench/results/typed_memory.json [--profiles default fast]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from llm import TURNS
from voice import remember_life

MAX_TOKENS = 48
TYPING_S = 3.0  # reading a short reply and typing the next message


async def conversation(runtime: Any, profile: str, mode: str) -> dict[str, Any]:
    """TURNS typed by a user known from LIFE; `mode` 'whole': no notes kept in place."""
    from os1.conversation import run_turn
    from os1.events import TextDelta
    from os1.memory import LongTermMemory
    from os1.memory.embedder import shared_embedder
    from os1.persona.identity import ONBOARDED, Identity
    from os1.typing_ahead import TypingAhead

    user = f"typed-{mode}"
    await remember_life(runtime, user)
    ctx = runtime.context(runtime.user(user))
    ctx.store.save_identity(
        Identity(os_name="Samantha", voice="joe", user_name="Sam", onboarding_step=ONBOARDED)
    )
    memory = LongTermMemory(ctx.store, shared_embedder(), None, model_extraction="off")
    if mode == "whole":
        memory.shown = lambda: {}  # type: ignore[method-assign]
    ctx.memory = memory
    shown_tokens: list[int] = []
    plain_show = memory.show

    def show(message_id: int, notes: str) -> None:
        shown_tokens.append(ctx.backend.count_tokens(notes) if notes else 0)
        plain_show(message_id, notes)

    memory.show = show  # type: ignore[method-assign]
    ahead = TypingAhead(ctx) if mode.startswith("prepared") else None
    ttfts: list[float] = []
    for text in TURNS:
        notes = None
        if ahead is not None and mode == "prepared":
            ahead.start()  # the terminal chat: on a thread of its own
        elif ahead is not None:
            ahead.start_task()  # the web chat: on the server's event loop
        if ahead is not None:
            await asyncio.sleep(TYPING_S)
        start, first = time.perf_counter(), 0.0
        if ahead is not None:
            notes = await ahead.finish(text)
        async for event in run_turn(ctx, text, notes=notes):
            if isinstance(event, TextDelta) and not first:
                first = time.perf_counter()
        ttfts.append((first - start) * 1000)
    memory.close()
    print(f"{profile} {mode}: {[round(t) for t in ttfts]}", file=sys.stderr)
    return {
        "ttft_ms_first_turn": round(ttfts[0]),
        "ttft_ms_later_turn": round(statistics.median(ttfts[1:])),
        "ttft_ms_all": [round(t) for t in ttfts],
        "note_tokens_shown": shown_tokens,
    }


MODES = ("kept", "whole", "prepared", "prepared_web")


async def run_profile(profile: str, modes: list[str]) -> dict[str, Any]:
    from os1.config import load_config
    from os1.runtime import Runtime

    home = Path(tempfile.mkdtemp(prefix="os1-typed-memory-"))
    os.environ["OS1_HOME"] = str(home)
    config = load_config(model=profile).with_overrides(
        n_threads=2, max_reply_tokens=MAX_TOKENS, temperature=0.0
    )
    runtime = Runtime(config, memory_factory=None)
    results: dict[str, Any] = {"profile": profile}
    for mode in modes:
        results[mode] = await conversation(runtime, profile, mode)
    for mode in [m for m in modes if m != "whole"] if "whole" in modes else []:
        results[f"later_turn_ratio_{mode}_to_whole"] = round(
            results[mode]["ttft_ms_later_turn"] / results["whole"]["ttft_ms_later_turn"], 3
        )
    runtime.close()
    shutil.rmtree(home, ignore_errors=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--profiles", nargs="+", default=["default", "fast"])
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(run_profile(args.child, args.modes))))
        return 0
    results: dict[str, Any] = {"machine": f"{os.cpu_count()} CPU cores", "profiles": {}}
    for profile in args.profiles:
        out = subprocess.run(
            [sys.executable, __file__, "--child", profile, "--modes", *args.modes],
            stdout=subprocess.PIPE,
            text=True,
        )
        if out.returncode:
            return 1
        results["profiles"][profile] = json.loads(out.stdout.strip().splitlines()[-1])
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
