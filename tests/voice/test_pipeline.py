"""The whole pipeline on the real engines (Silero, Whisper tiny.en, Piper) and a scripted model:
speech made by our own TTS goes in, in real-time order; barge-in arrives mid-playback."""

from __future__ import annotations

import asyncio

import numpy as np

from os1.context import TurnContext
from os1.testing import ScriptedBackend
from os1.voice.audio import STT_RATE, Audio, concat, silence, to_pcm16
from os1.voice.catalog import VoiceEngines
from os1.voice.frames import AudioChunk, BargeIn, Frame, ReplyEnded, SpeechStarted, Transcript
from os1.voice.session import VoiceSession


async def feed(session: VoiceSession, audio: Audio) -> None:
    x = audio.at(STT_RATE).samples
    for i in range(0, len(x), 512):
        session.feed(to_pcm16(Audio(x[i : i + 512], STT_RATE)))
        await asyncio.sleep(0)


async def test_barge_in_on_real_engines(
    ctx: TurnContext, backend: ScriptedBackend, engines: VoiceEngines
) -> None:
    backend.script = [
        "Well, the sea was calm that morning. We sailed out past the lighthouse, and the "
        "gulls followed us for hours.",
        "Sure.",
    ]
    joe = engines.voices.tts("joe")
    question = joe.synthesize("Tell me about your trip to the sea.")
    interruption = joe.synthesize("Wait, stop, I have a question.")
    cough = Audio(
        (np.random.default_rng(1).standard_normal(STT_RATE // 8) * 0.3).astype(np.float32),
        STT_RATE,
    )
    session = VoiceSession(ctx, engines)
    frames: list[Frame] = []

    async def collect() -> None:
        async for frame in session.frames():
            frames.append(frame)

    consumer = asyncio.create_task(collect())
    await feed(session, concat([silence(0.5), question, silence(0.6)], STT_RATE))
    async with asyncio.timeout(60):  # all four clauses synthesized (faster than real time)
        while sum(isinstance(f, AudioChunk) for f in frames) < 4:
            await asyncio.sleep(0.02)
    await feed(session, concat([silence(0.8), cough, silence(0.8)], STT_RATE))
    assert not any(isinstance(f, BargeIn) for f in frames)  # a 125 ms noise does not interrupt
    await feed(session, concat([interruption, silence(0.8)], STT_RATE))
    await session.finish()
    await consumer

    transcripts = [f.text.lower() for f in frames if isinstance(f, Transcript)]
    assert "trip to the" in transcripts[0] and "question" in transcripts[-1]
    # (a pause after "Wait, stop," may end that utterance early; then it is heard again
    # together with the rest, and the barge-in that cut its pending reply carries no message)
    barges = [f for f in frames if isinstance(f, BargeIn) and f.message_id is not None]
    assert len(barges) == 1 and barges[0].message_id is not None
    started = [f for f in frames if isinstance(f, SpeechStarted)]
    assert 0 < barges[0].at - started[1].at < 0.45  # confirmed ~250 ms into the interruption
    stored = ctx.store.get_message(barges[0].message_id)
    assert stored is not None and stored.status == "interrupted"
    assert stored.content == barges[0].played_text
    assert stored.content.startswith("Well, the sea was calm") and "gulls" not in stored.content
    interrupted = next(f for f in frames if isinstance(f, ReplyEnded))
    assert (interrupted.status, interrupted.text) == ("interrupted", stored.content)
    assert ctx.store.messages()[-1].content == "Sure."
