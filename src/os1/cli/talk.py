"""`os1 talk`: speak with your OS. Live with the microphone and speaker, or one file at a time:
`os1 talk --in question.wav --out answer.wav`. Talking over it interrupts it; Ctrl-C leaves."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from os1.cli.common import add_model_options, config_from, status
from os1.context import TurnContext
from os1.errors import InputError
from os1.runtime import Runtime
from os1.voice.audio import Audio, read_wav, write_wav
from os1.voice.catalog import STT_MODELS, VoiceEngines, load_engines
from os1.voice.frames import AudioChunk, BargeIn, Notice, ReplyEnded, ReplyText, Transcript
from os1.voice.session import VoiceSession


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("talk", help="talk with your OS aloud (microphone, or WAV files)")
    add_model_options(p)
    p.add_argument("--in", dest="input", type=Path, metavar="WAV", help="a recorded question")
    p.add_argument("--out", type=Path, metavar="WAV", help="where to write the spoken answer")
    p.add_argument("--stt", choices=STT_MODELS, default="tiny", help="speech model (tiny.en)")
    p.set_defaults(handler=talk)


def talk(args: argparse.Namespace) -> int:
    if (args.input is None) != (args.out is None):
        raise InputError("Give both --in (the question) and --out (where the answer goes).")
    recording = read_wav(args.input) if args.input else None  # bad files fail before loading
    if recording is not None:
        from os1.voice.files import check_recording

        check_recording(recording)
    config = config_from(args)
    runtime = Runtime(config, say=status)
    try:
        ctx = runtime.context(runtime.user(args.user), channel="voice")
        status("Loading the voice …")
        engines = load_engines(args.stt, config.models_dir)
        if recording is not None:
            return _file(ctx, engines, recording, args.out)
        return asyncio.run(_live(ctx, engines))
    finally:
        runtime.close()


def _file(ctx: TurnContext, engines: VoiceEngines, recording: Audio, out: Path) -> int:
    from os1.voice.files import answer_recording

    answer = asyncio.run(answer_recording(ctx, engines, recording))
    for notice in answer.notices:
        status(notice)
    os_name = ctx.store.get_identity().os_name or "os1"
    print(f"you › {answer.transcript or '…'}")
    print(f"{os_name} › {answer.reply}")
    if answer.audio is not None:
        write_wav(out, answer.audio)
        status(f"The answer is in {out} ({answer.audio.seconds:.1f} s).")
    return 0


async def _live(ctx: TurnContext, engines: VoiceEngines) -> int:
    from os1.voice.devices import LocalAudio

    loop = asyncio.get_running_loop()
    session = VoiceSession(ctx, engines)
    tts = engines.voices.tts(ctx.store.get_identity().voice)
    rate = tts.synthesize("Hi.").rate

    def heard(pcm: bytes) -> None:  # on PortAudio's thread: hop to the loop
        loop.call_soon_threadsafe(session.feed, pcm)

    audio = LocalAudio(heard, rate)
    status("Listening. Speak any time; talk over me to interrupt. (Ctrl-C leaves.)")
    session.greet()
    os_name = ctx.store.get_identity().os_name or "os1"
    try:
        async for frame in session.frames():
            if isinstance(frame, AudioChunk):
                audio.speaker.play(frame.pcm16, frame.rate)
            elif isinstance(frame, BargeIn):
                audio.speaker.stop()
                print(" (interrupted)", flush=True)
            elif isinstance(frame, Transcript) and frame.text:
                print(f"you › {frame.text}", flush=True)
            elif isinstance(frame, ReplyText):
                print(f"{os_name} › {frame.text}", flush=True)
            elif isinstance(frame, ReplyEnded):
                os_name = ctx.store.get_identity().os_name or os_name
            elif isinstance(frame, Notice):
                print(frame.message, file=sys.stderr, flush=True)
    finally:
        await session.aclose()
        audio.close()
    return 0
