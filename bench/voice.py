"""Voice benchmark: voice-to-voice latency through the real pipeline, fed in real time.

Per profile (a fresh child process each, so peak RSS is that whole stack's alone: Silero,
Whisper tiny.en, Piper joe, the profile's LLM, MiniLM), as in real use: long-term memory on
(deferred model extraction included), the user already known from two earlier sessions (LIFE:
18 things they said, remembered before the bench starts), and one conversation of 22 spoken
questions of varied length, made by our own Piper voice, fed to one VoiceSession in 32 ms
chunks at wall-clock pace; each question comes 0.3 s after the reply to the one before has
played to its end (as a listener would ask it). `--no-memory` runs without memory.
Voice-to-voice latency = wall time from feeding the last voiced input sample (so the VAD's
hangover counts) to the first AudioChunk of the reply to the whole utterance (the first after
its endpoint). A reply that started sounding before the person had finished (it answered a
pause mid-utterance, and was then talked over) is counted in `premature_replies`, never as a
latency; one the listener never took for speech (no reply comes) in `unheard_utterances`.
Continuity of the speech: an underrun is a piece of a reply whose audio arrived after
what came before it had finished playing (a short first piece must not be followed by
silence); `underrun_ms_max` and `underruns_over_50ms` count them over all replies.
Then barge-in: speech fed over a playing reply; reaction = wall time from feeding the frame
that confirms the speech to the BargeIn frame (playback stops there; a local speaker then
empties its buffer within one ~20 ms block); onset->stop adds the 250 ms short-noise filter on
top. STT/TTS real-time factors and round-trip WER are measured on the same utterances, and
`pipeline_wer` on what the session heard (endpointing and speculative transcription included).
Each turn is also split into stages (wall time after the last voiced sample): endpoint
(SpeechEnded), transcript, the first token run_turn yields, the start of the first piece's
synthesis, first audio; `first_piece_words_p50` is that piece's length in words.
The machine's load average is recorded: other work on these 2 cores inflates every number.

    python bench/voice.py --json bench/results/voice.json [--profiles default fast]
    python bench/voice.py --profiles fast --utterances 8 --barge-ins 2   (a quick A/B)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

QUESTIONS = [
    "Hi.",
    "Good morning!",
    "How are you?",
    "What time is it?",
    "Tell me a joke.",
    "Can you help me?",
    "What should I cook tonight?",
    "I had a strange dream last night.",
    "Do you remember my sister's name?",
    "What do you think about the ocean?",
    "I feel a little tired today, to be honest.",
    "Could you tell me something nice about autumn?",
    "I just finished reading a wonderful book about whales.",
    "What would you do on a rainy Sunday afternoon?",
    "My friend is moving to another city next month and I will miss her.",
    "Can you suggest a short walk I could take before dinner?",
    "I am thinking about learning to play the piano, is that a silly idea?",
    "Yesterday I met an old teacher of mine and we talked for hours about school.",
    "What is the best way to start writing a letter to someone I have not seen in years?",
    "I want to plan a quiet weekend, with a long breakfast, a walk, and a good movie.",
    "Tell me, what makes a friendship last for a really long time?",
    "Why do people like the sound of rain so much?",
]
# An earlier life with the OS (two sessions, 10 and 3 days ago), remembered before the bench
# starts: the questions then get memory notes in their prompts, as they do in real use.
LIFE = [
    (10, "My sister Anna lives in Lisbon and she works as a nurse.", "She sounds kind."),
    (10, "I love hiking in the mountains on weekends.", "What a lovely way to rest."),
    (10, "My dog Biscuit is three years old and loves the beach.", "Hello, Biscuit!"),
    (10, "I work as a graphic designer at a small studio.", "That suits you."),
    (10, "I hate waking up early, mornings are hard for me.", "Slow mornings, then."),
    (10, "My best friend Tom is moving to Berlin next month.", "You will miss him."),
    (10, "I have been learning to bake sourdough bread.", "How is it going?"),
    (10, "My favourite book is The Old Man and the Sea.", "A beautiful choice."),
    (10, "I grew up in a small town by the river.", "It must have been quiet."),
    (10, "I like green tea in the afternoon.", "A good habit."),
    (3, "I went to the ocean with Anna last weekend.", "How was the water?"),
    (3, "I had a job interview on Tuesday and I think it went well.", "Fingers crossed."),
    (3, "My mother's birthday is on the 14th of December.", "Shall I remind you?"),
    (3, "I am thinking about taking piano lessons.", "You should try."),
    (3, "Work has been stressful and I felt really tired this week.", "Rest a little."),
    (3, "Tom and I watched a documentary about whales.", "Whales are amazing."),
    (3, "I like rainy days because I can read all afternoon.", "Rain and a book."),
    (3, "I want to cook something special for dinner on Friday.", "What do you like?"),
]
BARGE_INS = 10


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) if values else float("nan")


def ms(value: float) -> int | None:
    """Milliseconds for the JSON; None where nothing was measured (NaN)."""
    return None if np.isnan(value) else round(value)


def wer(reference: str, hypothesis: str) -> tuple[int, int]:
    ref = [w.strip(".,?!'").lower() for w in reference.split()]
    hyp = [w.strip(".,?!'").lower() for w in hypothesis.split()]
    d = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, d[0] = d[0], i
        for j, h in enumerate(hyp, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (r != h))
    return d[len(hyp)], len(ref)


async def feed_realtime(session: Any, samples: np.ndarray, until: Any = None) -> float:
    """Feed 16 kHz samples at wall-clock pace; return the wall time the last one was fed."""
    from os1.voice.audio import STT_RATE, Audio, to_pcm16

    start = time.perf_counter()
    fed_at = start
    for i in range(0, len(samples), 512):
        due = start + i / STT_RATE
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        session.feed(to_pcm16(Audio(samples[i : i + 512], STT_RATE)))
        fed_at = time.perf_counter()
        if until is not None and until():
            break
    return fed_at


def last_voiced(samples: np.ndarray) -> int:
    loud = np.nonzero(np.abs(samples) > 0.02)[0]
    return int(loud[-1]) + 1 if len(loud) else len(samples)


def spread(items: list[str], n: int) -> list[str]:
    """`n` items evenly spaced over the list (all of them when n >= len)."""
    if n >= len(items):
        return items
    return [items[round(i * (len(items) - 1) / max(1, n - 1))] for i in range(n)]


def underruns(chunks: list[tuple[float, bytes, int]]) -> list[float]:
    """Silences (s) inside a reply: each chunk (arrival time, PCM16, rate) plays after the one
    before it has ended, or at its arrival if that is later."""
    gaps: list[float] = []
    end = None
    for t, pcm, rate in chunks:
        if end is not None and t > end:
            gaps.append(t - end)
        end = max(t, end or t) + len(pcm) / 2 / rate
    return gaps


async def remember_life(runtime: Any, user: str) -> int:
    """Store LIFE as the user's earlier sessions, learnt by memory as live chat learns them
    (deterministic extraction; the model's would have finished long ago); how many memories."""
    from datetime import UTC, datetime, timedelta

    from os1.memory import LongTermMemory
    from os1.memory.embedder import shared_embedder

    store = runtime.accounts.open_store(runtime.user(user))
    memory = LongTermMemory(store, shared_embedder(), None, model_extraction="off")
    sessions: dict[int, int] = {}
    for days, said, reply in LIFE:
        when = datetime.now(UTC) - timedelta(days=days)
        if days not in sessions:
            sessions[days] = store.start_session("voice", started_at=when.isoformat())
        created = when.isoformat()
        pair = [
            store.add_message(sessions[days], role, text, created_at=created)
            for role, text in (("user", said), ("assistant", reply))
        ]
        await memory.observe(pair)
    count = memory.memories.count()
    memory.close()
    return count


async def run_profile(
    profile: str, questions: list[str], barge_ins: int, remember: bool
) -> dict[str, Any]:
    from os1.config import load_config
    from os1.persona.identity import ONBOARDED, Identity
    from os1.runtime import Runtime
    from os1.voice import session as session_module
    from os1.voice.audio import STT_RATE
    from os1.voice.catalog import load_engines
    from os1.voice.frames import (
        AudioChunk,
        BargeIn,
        Frame,
        ReplyEnded,
        ReplyText,
        SpeechEnded,
        SpeechStarted,
        Transcript,
    )
    from os1.voice.session import VoiceSession

    home = Path(tempfile.mkdtemp(prefix="os1-voice-bench-"))
    os.environ["OS1_HOME"] = str(home)
    config = load_config(model=profile).with_overrides(n_threads=2, max_reply_tokens=80)
    runtime = Runtime(config, memory_factory=True if remember else None)
    engines = load_engines("tiny")
    memories = await remember_life(runtime, "bench") if remember else 0

    def voice_context(user: str) -> Any:
        ctx = runtime.context(runtime.user(user), channel="voice")
        ctx.store.save_identity(
            Identity(os_name="Samantha", voice="joe", user_name="Sam", onboarding_step=ONBOARDED)
        )
        return ctx

    ctx = voice_context("bench")
    joe = engines.voices.tts("joe")
    # when run_turn yields its first words, and when each synthesis starts (what, when)
    first_tokens: list[float] = []
    syntheses: list[tuple[float, str]] = []
    plain_turn, plain_synthesize = session_module.run_turn, joe.synthesize

    async def timed_turn(*args: Any, **kwargs: Any) -> Any:
        first = True
        async for event in plain_turn(*args, **kwargs):
            if first and type(event).__name__ == "TextDelta":
                first_tokens.append(time.perf_counter())
                first = False
            yield event

    def timed_synthesize(text: str) -> Any:
        syntheses.append((time.perf_counter(), text))
        return plain_synthesize(text)

    session_module.run_turn = timed_turn  # type: ignore[assignment]
    joe.synthesize = timed_synthesize  # type: ignore[method-assign]
    load_before = os.getloadavg()

    # speech in (made by our own TTS) + STT/TTS speed and accuracy on it
    tts_time = tts_audio = stt_time = stt_audio = 0.0
    errors = words = 0
    utterances = []
    for q in questions:
        t = time.perf_counter()
        audio = joe.synthesize(q)
        tts_time += time.perf_counter() - t
        tts_audio += audio.seconds
        x = audio.at(STT_RATE).samples
        x = x[: last_voiced(x)]
        t = time.perf_counter()
        heard = engines.stt.transcribe(audio.at(STT_RATE))
        stt_time += time.perf_counter() - t
        stt_audio += audio.seconds
        e, n = wer(q, heard)
        errors, words = errors + e, words + n
        utterances.append(x)

    warm = joe.synthesize("Tell me about your day.").at(STT_RATE).samples
    latencies: list[float] = []
    premature = unheard = 0
    pipeline_errors = pipeline_words = 0
    stages: dict[str, list[float]] = {
        "endpoint": [],
        "transcript": [],
        "first_token": [],
        "first_piece": [],
    }
    piece_words: list[int] = []
    gaps: list[float] = []  # underruns inside the replies

    def answered(out: list[tuple[float, Frame]], since: float) -> float | None:
        """When the reply to the utterance that ended after `since` first sounded."""
        ends = [t for t, f in out if isinstance(f, SpeechEnded) and t >= since]
        if not ends:
            return None
        return next((t for t, f in out if isinstance(f, AudioChunk) and t > ends[-1]), None)

    session = VoiceSession(ctx, engines)  # one conversation: each question after the reply
    frames: list[tuple[float, Frame]] = []

    async def collect(s: VoiceSession, out: list[tuple[float, Frame]]) -> None:
        async for f in s.frames():
            out.append((time.perf_counter(), f))

    consumer = asyncio.create_task(collect(session, frames))
    for i, x in enumerate([warm, *utterances]):
        t_start = time.perf_counter()  # the person takes a breath, then speaks
        padded = np.concatenate([np.zeros(STT_RATE * 3 // 10, np.float32), x])
        t_last = await feed_realtime(session, padded)
        got = lambda out=frames, t=t_last: answered(out, t) is not None  # noqa: E731
        await feed_realtime(session, np.zeros(STT_RATE * 20, np.float32), until=got)
        if not any(isinstance(f, SpeechStarted) and t >= t_start for t, f in frames):
            unheard += 1  # the listener never took it for speech: no reply will come
            print(f"{profile} turn {i}: not heard", file=sys.stderr)
            continue
        async with asyncio.timeout(120):  # (a loaded machine is slow, not broken)
            while not got():
                if consumer.done():
                    consumer.result()  # re-raises what broke the session
                await asyncio.sleep(0.005)
        first = answered(frames, t_last)
        assert first is not None
        # the reply plays to its end (a listener hears it out before the next question)
        played = lambda out=frames, t=first: any(  # noqa: E731
            isinstance(f, ReplyEnded) and s >= t for s, f in out
        )
        await feed_realtime(session, np.zeros(STT_RATE * 40, np.float32), until=played)
        chunks = [(t, f.pcm16, f.rate) for t, f in frames if isinstance(f, AudioChunk)]
        gaps += underruns([c for c in chunks if c[0] >= first])
        now = [(t, f) for t, f in frames if t >= t_start]
        # it answered a pause mid-utterance and the person talked over it: not a latency
        early = any(isinstance(f, AudioChunk) and t < t_last for t, f in now)
        log = ""
        if i > 0 and early:
            premature += 1
        elif i > 0:  # the first (warm-up) turn pays the model's cold prompt
            latencies.append((first - t_last) * 1000)
            said = " ".join(f.text for t, f in now if isinstance(f, Transcript) and t <= first)
            e, n = wer(questions[i - 1], said)
            pipeline_errors, pipeline_words = pipeline_errors + e, pipeline_words + n
            ended = [t for t, f in now if isinstance(f, SpeechEnded) and t <= first]
            heard = [t for t, f in now if isinstance(f, Transcript) and t <= first]
            turn = {"endpoint": ended[-1], "transcript": heard[-1]}
            tokens = [t for t in first_tokens if ended[-1] <= t <= first]
            if tokens:
                turn["first_token"] = tokens[0]
            pieces = [(t, text) for t, text in syntheses if ended[-1] <= t <= first]
            if pieces:
                turn["first_piece"] = pieces[0][0]
                piece_words.append(len(pieces[0][1].split()))
            for stage, t in turn.items():
                stages[stage].append((t - t_last) * 1000)
            log = " ".join(f"{k} {(t - t_last) * 1000:.0f}" for k, t in turn.items())
        tag = " (premature reply)" if early else f" ({log})" if i > 0 else ""
        print(f"{profile} turn {i}: {(first - t_last) * 1000:.0f} ms{tag}", file=sys.stderr)
    await session.aclose()
    await consumer

    # barge-in: talk over a playing reply (one asked to be long, interrupted 0.3 s into its
    # first sound); a reply that was over before the speech was confirmed cannot be
    # interrupted, so it is counted apart, not as a miss
    reactions: list[float] = []
    onset_to_stop: list[float] = []
    over = 0
    story = joe.synthesize("Please tell me a long story about the sea.").at(STT_RATE).samples
    story = story[: last_voiced(story)]
    interruption = joe.synthesize("Hold on a second, please, wait.").at(STT_RATE).samples
    for k in range(barge_ins):
        # a fresh conversation each time: after a few interrupted stories in its history the
        # model mimics them with a one-word reply that is over before it can be interrupted
        session = VoiceSession(voice_context(f"barge-{k}"), engines)
        frames = []
        consumer = asyncio.create_task(collect(session, frames))
        t_last = await feed_realtime(session, np.concatenate([np.zeros(8000, np.float32), story]))
        got = lambda out=frames, t=t_last: answered(out, t) is not None  # noqa: E731
        await feed_realtime(session, np.zeros(STT_RATE * 20, np.float32), until=got)
        await feed_realtime(session, np.zeros(STT_RATE * 3 // 10, np.float32))
        fed: list[float] = []
        replying = True  # the OS was talking all the while the interruption was fed
        start = time.perf_counter()
        for j in range(0, len(interruption), 512):
            await asyncio.sleep(max(0.0, start + j / STT_RATE - time.perf_counter()))
            replying = replying and session.busy
            before = time.perf_counter()
            session.feed((interruption[j : j + 512] * 32767).astype("<i2").tobytes())
            fed.append(before)
            await asyncio.sleep(0)
            if any(isinstance(f, BargeIn) for _, f in frames):
                break
        # (a pause inside the question may have cut an earlier reply short: not this one)
        barge = [(t, f) for t, f in frames if isinstance(f, BargeIn) and t >= start]
        if barge:
            reactions.append((barge[0][0] - fed[-1]) * 1000)
            onset = [f for _, f in frames if isinstance(f, SpeechStarted)][-1]
            assert isinstance(barge[0][1], BargeIn)
            onset_to_stop.append((barge[0][1].at - onset.at) * 1000 + reactions[-1])
        elif replying:
            print(f"{profile} barge-in missed", file=sys.stderr)
        else:
            over += 1
            said = [f for _, f in frames if isinstance(f, Transcript | ReplyText | ReplyEnded)]
            print(f"{profile} barge-in: the reply was over: {said}", file=sys.stderr)
        await session.aclose()
        await consumer
    runtime.close()
    shutil.rmtree(home, ignore_errors=True)  # (the assembled model is a copy)
    return {
        "profile": profile,
        "load_avg_before": [round(v, 2) for v in load_before],
        "load_avg_after": [round(v, 2) for v in os.getloadavg()],
        "stage_ms_p50": {k: ms(pct(v, 50)) for k, v in stages.items()},
        "stage_ms_p95": {k: ms(pct(v, 95)) for k, v in stages.items()},
        "first_piece_words_p50": float(np.median(piece_words)) if piece_words else None,
        "memories": memories,
        "underrun_ms_max": round(max(gaps, default=0.0) * 1000),
        "underruns_over_50ms": sum(g > 0.05 for g in gaps),
        "utterances": len(latencies) + premature + unheard,
        "premature_replies": premature,
        "unheard_utterances": unheard,
        "voice_to_voice_ms_p50": ms(pct(latencies, 50)),
        "voice_to_voice_ms_p95": ms(pct(latencies, 95)),
        "voice_to_voice_ms_all": [round(v) for v in latencies],
        "stt_rtf": round(stt_time / stt_audio, 3),
        "stt_wer": round(errors / max(1, words), 3),
        "pipeline_wer": round(pipeline_errors / max(1, pipeline_words), 3),
        "tts_rtf": round(tts_time / tts_audio, 3),
        "barge_in_ms_p95": round(pct(reactions, 95), 2),
        "barge_in_ms_p50": round(pct(reactions, 50), 2),
        "barge_in_detected": f"{len(reactions)}/{barge_ins - over}",
        "barge_in_reply_already_over": over,
        "barge_in_onset_to_stop_ms_p95": ms(pct(onset_to_stop, 95)),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--profiles", nargs="+", default=["default", "fast"])
    parser.add_argument("--utterances", type=int, default=len(QUESTIONS))
    parser.add_argument("--barge-ins", type=int, default=BARGE_INS)
    parser.add_argument(
        "--no-memory", action="store_true", help="long-term memory off (as before the 6th pass)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        questions = spread(QUESTIONS, args.utterances)
        result = run_profile(args.child, questions, args.barge_ins, not args.no_memory)
        print(json.dumps(asyncio.run(result)))
        return 0
    results: dict[str, Any] = {
        "machine": f"{os.cpu_count()} CPU cores",
        "load_avg_at_start": [round(v, 2) for v in os.getloadavg()],
        "profiles": {},
    }
    for profile in args.profiles:
        t = time.perf_counter()
        out = subprocess.run(
            [
                *(sys.executable, __file__, "--child", profile),
                *("--utterances", str(args.utterances), "--barge-ins", str(args.barge_ins)),
                *(["--no-memory"] if args.no_memory else []),
            ],
            stdout=subprocess.PIPE,  # (its per-turn log goes straight to stderr)
            text=True,
        )
        if out.returncode:
            return 1
        results["profiles"][profile] = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{profile}: {time.perf_counter() - t:.0f} s", file=sys.stderr)
    first = results["profiles"][args.profiles[0]]
    for key in ("stt_rtf", "stt_wer", "tts_rtf", "barge_in_ms_p95"):
        results[key] = first[key]
    results["peak_rss_mb"] = max(p["peak_rss_mb"] for p in results["profiles"].values())
    for name, p in results["profiles"].items():
        results[f"voice_to_voice_ms_p50_{name}"] = p["voice_to_voice_ms_p50"]
        results[f"voice_to_voice_ms_p95_{name}"] = p["voice_to_voice_ms_p95"]
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
