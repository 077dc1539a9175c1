"""One recorded question in, one spoken answer out: `os1 talk --in q.wav --out a.wav`.

The recording is read forgivingly (any PCM WAV, any rate, stereo; see os1.voice.audio),
refused with one sentence when it cannot be a question (too long, not a WAV), and answered
through the same VoiceSession as live speech, so the turn, its prosody and the reply are stored
exactly as in a conversation. Silence or noise gets "Sorry, I didn't catch that." Clipped
audio is answered as heard, with a notice.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import numpy as np

from os1.context import TurnContext
from os1.errors import InputError
from os1.voice.audio import Audio, concat, from_pcm16
from os1.voice.catalog import VoiceEngines
from os1.voice.frames import AudioChunk, Frame, Notice, ReplyText, Transcript
from os1.voice.session import VoiceSession

MAX_SECONDS = 120.0


@dataclass
class Answer:
    transcript: str = ""
    reply: str = ""
    audio: Audio | None = None
    notices: list[str] = field(default_factory=list)
    frames: list[Frame] = field(default_factory=list)


def check_recording(audio: Audio) -> list[str]:
    """Refuse a recording that cannot be one question; notices for one that is doubtful."""
    if audio.seconds > MAX_SECONDS:
        minutes, seconds = divmod(round(audio.seconds), 60)
        raise InputError(
            f"That recording is {minutes}:{seconds:02d} long and I take questions of up to "
            f"{int(MAX_SECONDS // 60)} minutes; please trim it (nothing was saved)."
        )
    clipped = float(np.mean(np.abs(audio.samples) >= 0.99)) if len(audio.samples) else 0.0
    if clipped > 0.01:
        return ["That recording is clipped (too loud), so I may have misheard some of it."]
    return []


async def answer_recording(ctx: TurnContext, engines: VoiceEngines, audio: Audio) -> Answer:
    answer = Answer(notices=check_recording(audio))
    session = VoiceSession(ctx, engines)
    session.respond_to(audio)
    chunks: list[Audio] = []

    async def collect() -> None:
        async for frame in session.frames():
            answer.frames.append(frame)
            if isinstance(frame, Transcript):
                answer.transcript = frame.text
            elif isinstance(frame, ReplyText):
                answer.reply = f"{answer.reply} {frame.text}".strip()
            elif isinstance(frame, AudioChunk):
                chunks.append(from_pcm16(frame.pcm16, frame.rate))
            elif isinstance(frame, Notice):
                answer.notices.append(frame.message)

    await asyncio.gather(collect(), session.finish())
    if chunks:
        answer.audio = concat(chunks, chunks[0].rate)
    return answer


__all__ = ["MAX_SECONDS", "Answer", "answer_recording", "check_recording"]
