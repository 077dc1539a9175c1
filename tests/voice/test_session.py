"""Pipeline tests on fakes: scripted audio in, frames and stored messages out."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from os1.backends.base import GenerationOptions
from os1.backends.fair import FairBackend
from os1.context import TurnContext
from os1.conversation import prompt_cache
from os1.events import BackendEvent
from os1.messages import Message
from os1.testing import ScriptedBackend
from os1.voice import prosody
from os1.voice.audio import STT_RATE, Audio, silence, to_pcm16
from os1.voice.catalog import VoiceCatalog, VoiceEngines
from os1.voice.engines import TextToSpeech
from os1.voice.frames import (
    AudioChunk,
    BargeIn,
    Frame,
    Notice,
    ReplyEnded,
    ReplyText,
    SpeechEnded,
    SpeechStarted,
    Transcript,
)
from os1.voice.session import DIDNT_CATCH, VoiceSession
from os1.voice.testing import EnergyVad, ScriptedStt, ToneTts, tone
from tests.helpers import until


class FakeVoices(VoiceCatalog):
    def __init__(self, tts: TextToSpeech) -> None:
        super().__init__()
        self.fake = tts

    def tts(self, voice_id: str | None) -> TextToSpeech:
        return self.fake


def engines(stt: ScriptedStt, tts: ToneTts | None = None) -> VoiceEngines:
    return VoiceEngines(vad=EnergyVad, stt=stt, voices=FakeVoices(tts or ToneTts()))


async def play(session: VoiceSession, audio: Audio, *, until: type | None = None) -> None:
    """Feed audio in 32 ms chunks, letting the loop run between chunks (real time, sped up)."""
    samples = audio.at(STT_RATE).samples
    for i in range(0, len(samples), 512):
        session.feed(to_pcm16(Audio(samples[i : i + 512], STT_RATE)))
        await asyncio.sleep(0)


async def collect(session: VoiceSession, frames: list[Frame]) -> None:
    async for frame in session.frames():
        frames.append(frame)


async def one_utterance(session: VoiceSession) -> list[Frame]:
    """A second of speech between silences, answered; the frames of the whole call."""
    frames: list[Frame] = []
    consumer = asyncio.create_task(collect(session, frames))
    await play(session, silence(0.3))
    await play(session, tone(1.0))
    await play(session, silence(0.6))
    await session.finish()
    await consumer
    return frames


async def test_one_turn_is_heard_answered_and_stored(ctx: TurnContext, backend: ScriptedBackend):
    backend.script = ["Oh, hello Alice. It is lovely to hear you."]
    stt = ScriptedStt(["hello there"])
    tts = ToneTts()
    session = VoiceSession(ctx, engines(stt, tts))
    frames = await one_utterance(session)
    stt.assert_done()

    kinds = [type(f) for f in frames]
    assert kinds[:3] == [SpeechStarted, SpeechEnded, Transcript]
    ended = next(f for f in frames if isinstance(f, SpeechEnded))
    assert abs(ended.at - 1.3) < 0.07  # the last voiced sample, not the endpoint
    assert tts.spoken == ["Oh,", "hello Alice.", "It is lovely to hear you."]
    assert [f.text for f in frames if isinstance(f, ReplyText)] == tts.spoken
    assert sum(isinstance(f, AudioChunk) for f in frames) == 3
    assert isinstance(frames[-1], ReplyEnded) and frames[-1].status == "complete"
    user, reply = ctx.store.messages()[-2:]
    assert (user.role, user.content) == ("user", "hello there")
    assert (reply.content, reply.status) == (
        "Oh, hello Alice. It is lovely to hear you.",
        "complete",
    )
    said = prosody.load(ctx.store, user.id)
    assert said is not None and 0.8 < said.voiced_seconds < 1.4
    assert said.pitch_hz is not None and abs(said.pitch_hz - 220) < 15


async def test_barge_in_stops_playback_and_keeps_only_what_was_played(
    ctx: TurnContext, backend: ScriptedBackend
):
    reply = "Well, let me tell you a long story about the sea. It goes on and on for a while."
    backend.script = [reply, "Of course."]
    stt = ScriptedStt(["tell me a story", "stop please"])
    tts = ToneTts(seconds_per_word=0.25, level=0.3)
    session = VoiceSession(ctx, engines(stt, tts))
    frames: list[Frame] = []
    consumer = asyncio.create_task(collect(session, frames))
    await play(session, tone(0.8))
    await play(session, silence(0.4))  # endpoint; the reply starts
    while not any(isinstance(f, AudioChunk) for f in frames):
        await asyncio.sleep(0.01)
    # "Well," (0.25 s), then the 10-word second clause (2.5 s) plays for a while ...
    await play(session, silence(1.0))
    # ... when the user talks over it: confirmed after 250 ms, a cough would not be.
    await play(session, tone(0.1, level=0.5))
    await play(session, silence(0.1))
    assert not any(isinstance(f, BargeIn) for f in frames)
    await play(session, tone(0.6, level=0.5))
    await play(session, silence(0.5))
    await session.finish()
    await consumer
    stt.assert_done()

    barge = next(f for f in frames if isinstance(f, BargeIn))
    after = frames[frames.index(barge) + 1 :]
    assert not any(isinstance(f, AudioChunk) and f.message_id == barge.message_id for f in after)
    stored = ctx.store.get_message(barge.message_id or 0)
    assert stored is not None and stored.status == "interrupted"
    assert stored.content == barge.played_text
    # confirmed 1.45 s into playback: "Well," + 1.2 s of the 2.5 s clause = 4 of its 10 words
    assert stored.content == "Well, let me tell you"
    ended = [f for f in frames if isinstance(f, ReplyEnded)]
    assert ended[0].status == "interrupted" and ended[0].text == stored.content
    # the second utterance became the next turn
    assert [m.content for m in ctx.store.messages() if m.role == "user"] == [
        "tell me a story",
        "stop please",
    ]


async def test_own_voice_leaking_into_the_mic_is_not_heard(
    ctx: TurnContext, backend: ScriptedBackend
):
    backend.script = ["I am talking for quite a while now, about many things indeed."]
    stt = ScriptedStt(["hi"])
    tts = ToneTts(seconds_per_word=0.25, level=0.3, rate=STT_RATE)
    session = VoiceSession(ctx, engines(stt, tts))
    frames: list[Frame] = []
    consumer = asyncio.create_task(collect(session, frames))
    await play(session, tone(0.6))
    await play(session, silence(0.4))
    while not any(isinstance(f, AudioChunk) for f in frames):
        await asyncio.sleep(0.01)
    # The mic hears our own reply at half its level (no echo cancellation), in real time.
    echo = 0.5 * np.concatenate(
        [
            np.frombuffer(f.pcm16, "<i2").astype(np.float32) / 32768
            for f in frames
            if isinstance(f, AudioChunk)
        ]
    )
    await play(session, Audio(echo.astype(np.float32), STT_RATE))
    await session.finish()
    await consumer
    stt.assert_done()
    assert not any(isinstance(f, BargeIn) for f in frames)
    assert sum(isinstance(f, SpeechStarted) for f in frames) == 1
    assert ctx.store.messages()[-1].status == "complete"


async def test_silence_and_noise_get_a_gentle_didnt_catch_that(
    ctx: TurnContext, backend: ScriptedBackend
):
    stt = ScriptedStt([""])  # speech-like energy, but nothing intelligible
    session = VoiceSession(ctx, engines(stt))
    frames: list[Frame] = []
    consumer = asyncio.create_task(collect(session, frames))
    await play(session, silence(2.0))  # silence alone starts nothing
    await play(session, tone(0.5))
    await play(session, silence(0.5))
    await session.finish()
    await consumer
    stt.assert_done()
    assert Notice(DIDNT_CATCH) in frames
    assert any(isinstance(f, AudioChunk) for f in frames)
    assert all(m.role != "user" for m in ctx.store.messages())  # nothing to store


async def test_a_question_ends_at_the_guess_before_the_hangover(
    ctx: TurnContext, backend: ScriptedBackend
):
    backend.script = ["Very well, thank you."]
    stt = ScriptedStt(["How are you?"])  # heard once, during the pause
    session = VoiceSession(ctx, engines(stt))
    frames: list[Frame] = []
    consumer = asyncio.create_task(collect(session, frames))
    await play(session, tone(1.0))
    await play(session, silence(0.24))  # 64 ms in the guess starts; it ends the turn at 192
    async with asyncio.timeout(5):
        while not any(isinstance(f, SpeechEnded) for f in frames):
            await asyncio.sleep(0.005)
    assert session.now < STT_RATE * (1.0 + 0.28)  # the 280 ms hangover has not passed
    await play(session, silence(0.5))
    await session.finish()
    await consumer
    stt.assert_done()
    assert [m.content for m in ctx.store.messages()] == ["How are you?", "Very well, thank you."]


async def test_a_pause_after_a_phrase_waits_and_keeps_the_first_part(
    ctx: TurnContext, backend: ScriptedBackend
):
    backend.script = ["Oh, I hear you."]
    stt = ScriptedStt(["I feel a little tired today.", "To be honest."])
    session = VoiceSession(ctx, engines(stt))
    frames: list[Frame] = []
    consumer = asyncio.create_task(collect(session, frames))
    await play(session, tone(1.0))
    await play(session, silence(0.16))
    await asyncio.sleep(0.05)  # the guess is back: a full stop may be a comma pause, so wait
    await play(session, silence(0.2))  # 360 ms in all: past the plain 280 ms hangover
    assert not any(isinstance(f, SpeechEnded) for f in frames)
    await play(session, tone(0.5))  # the person goes on
    await play(session, silence(0.16))
    await asyncio.sleep(0.05)
    await play(session, silence(0.5))
    await session.finish()
    await consumer
    stt.assert_done()
    # the second guess heard only the part after the pause, not the whole question again
    assert stt.heard[1].seconds < 0.5 + 0.2 + 0.2
    users = [m.content for m in ctx.store.messages() if m.role == "user"]
    assert users == ["I feel a little tired today, to be honest."]
    assert sum(isinstance(f, SpeechEnded) for f in frames) == 1


@dataclass
class CachingBackend(ScriptedBackend):
    """A scripted embedded model: records prefills, generations stopped before their end, and
    when generation yields the cores."""

    prefilled: list[str] = field(default_factory=list)
    relaxed: list[bool] = field(default_factory=list)  # each prefill: may it use large chunks?
    stopped: int = 0
    yielding: bool = False
    prefill_seconds: float = 0.0  # how long a prefill runs (a pause may find it running)

    async def prefill(
        self,
        messages: Sequence[Message],
        *,
        relaxed: Callable[[], bool] | None = None,
        cut_history: bool = False,
    ) -> None:
        self.prefilled.append(messages[-1].content)
        self.relaxed.append(relaxed is not None)
        if self.prefill_seconds:
            await asyncio.sleep(self.prefill_seconds)

    async def stream(
        self, messages: Sequence[Message], options: GenerationOptions
    ) -> AsyncGenerator[BackendEvent, None]:
        finished = False
        try:
            async for event in super().stream(messages, options):
                yield event
            finished = True
        finally:
            self.stopped += not finished

    @contextlib.contextmanager
    def yield_cores(self) -> Iterator[None]:
        self.yielding = True
        try:
            yield
        finally:
            self.yielding = False


@dataclass
class WatchingTts(ToneTts):
    backend: CachingBackend | None = None
    while_yielding: list[bool] = field(default_factory=list)

    def synthesize(self, text: str) -> Audio:
        assert self.backend is not None
        self.while_yielding.append(self.backend.yielding)
        return super().synthesize(text)


async def test_a_guess_that_was_not_the_end_is_generated_but_never_heard(ctx: TurnContext):
    backend = ctx.backend = CachingBackend(
        script=["Never heard, " * 20, "Oh, I hear you. Rest a little tonight."], delay=0.01
    )
    stt = ScriptedStt(["I feel a", "I feel a little tired today.", "To be honest."])
    tts = WatchingTts(backend=backend)
    session = VoiceSession(ctx, engines(stt, tts))
    frames: list[Frame] = []
    consumer = asyncio.create_task(collect(session, frames))
    await play(session, tone(1.5))  # heard so far after a second of speech: "I feel a"
    assert 1.0 <= stt.heard[0].seconds < 1.1 and backend.prefilled == ["", "I feel a"]
    assert backend.relaxed == [True, False]  # the call's start in large chunks (until someone
    # talks); what speech is heard to say, in small ones
    await play(session, silence(0.16))
    # a statement may be the end: its reply is generated while the endpoint waits
    await until(lambda: len(backend.calls) == 1)
    assert backend.calls[0].messages[-1].content == "I feel a little tired today."
    assert ctx.store.messages() == []  # nothing speculative is stored
    await play(session, tone(0.25))  # ... but the person goes on
    await play(session, silence(0.16))
    await asyncio.sleep(0.05)
    await play(session, silence(0.5))
    await session.finish()
    await consumer
    stt.assert_done()
    backend.assert_done()
    users = [m.content for m in ctx.store.messages() if m.role == "user"]
    assert users == ["I feel a little tired today, to be honest."]
    assert backend.calls[-1].messages[-1].content == users[0]  # the turn saw the final text
    assert backend.stopped == 1  # the speculative generation was cut off
    heard = [f.text for f in frames if isinstance(f, ReplyText)]
    assert heard[:2] == ["Oh,", "I hear you."]  # (its first piece may have been voiced: unheard)
    assert not any("Never" in piece for piece in heard)
    # only the first piece pauses the model
    real = [
        y for said, y in zip(tts.spoken, tts.while_yielding, strict=True) if "Never" not in said
    ]
    assert real[:2] == [True, False]


async def test_the_turn_takes_over_the_reply_generated_for_its_guess(ctx: TurnContext):
    backend = ctx.backend = CachingBackend(script=["Oh, I hear you."], delay=0.01)
    stt = ScriptedStt(["I feel a little tired today."])  # heard once, during the pause
    tts = WatchingTts(backend=backend)
    session = VoiceSession(ctx, engines(stt, tts))
    frames: list[Frame] = []
    consumer = asyncio.create_task(collect(session, frames))
    await play(session, tone(0.8))
    await play(session, silence(0.16))
    await until(lambda: len(backend.calls) == 1)
    await until(lambda: tts.spoken == ["Oh,"])  # its first piece is voiced ahead too ...
    assert not any(isinstance(f, (SpeechEnded, AudioChunk)) for f in frames)  # ... unheard
    await play(session, silence(0.5))
    await session.finish()
    await consumer
    stt.assert_done()
    assert len(backend.calls) == 1  # the turn asked for the same prompt and got that reply
    assert [(m.role, m.content, m.status) for m in ctx.store.messages()] == [
        ("user", "I feel a little tired today.", "complete"),
        ("assistant", "Oh, I hear you.", "complete"),
    ]
    assert tts.spoken == ["Oh,", "I hear you."]  # the first piece was not voiced twice
    assert [f.text for f in frames if isinstance(f, ReplyText)] == tts.spoken


async def test_hanging_up_stops_a_speculative_generation(ctx: TurnContext):
    backend = ctx.backend = CachingBackend(script=["Well, " * 50], delay=0.02)
    stt = ScriptedStt(["I feel a little tired today."])
    session = VoiceSession(ctx, engines(stt))
    consumer = asyncio.create_task(collect(session, []))
    await play(session, tone(0.8))
    await play(session, silence(0.16))
    await until(lambda: len(backend.calls) == 1)
    await session.aclose()
    await consumer
    await until(lambda: backend.stopped == 1)
    assert ctx.store.messages() == []


async def test_a_trailing_and_is_only_prefilled(ctx: TurnContext):
    backend = ctx.backend = CachingBackend(script=["Go on."])
    stt = ScriptedStt(["I went to the shop and"])
    session = VoiceSession(ctx, engines(stt))
    frames: list[Frame] = []
    consumer = asyncio.create_task(collect(session, frames))
    await play(session, tone(0.8))
    await play(session, silence(0.16))
    await until(lambda: "I went to the shop and" in backend.prefilled)
    assert backend.calls == []
    await play(session, silence(1.0))
    await session.finish()
    await consumer
    assert [m.content for m in ctx.store.messages()] == ["I went to the shop and", "Go on."]


async def test_a_guess_from_a_pause_between_words_is_not_kept(
    ctx: TurnContext, backend: ScriptedBackend
):
    """A guess is taken 64 ms into every pause. One between two words (under 128 ms) is dropped
    when the person goes on, and so is the end it decided (a "?" ends a pause only 192 ms in):
    at the end the whole utterance is heard again, since Whisper hears a phrase cut between
    words badly ("what? Time is it.")."""
    backend.script = ["Half past three."]
    stt = ScriptedStt(["What?", "What time is it?"])
    session = VoiceSession(ctx, engines(stt))
    frames: list[Frame] = []
    consumer = asyncio.create_task(collect(session, frames))
    await play(session, tone(0.512))  # 16 frames
    await play(session, silence(0.096))  # 3 frames: the guess is taken at the second
    await until(lambda: len(stt.heard) == 1)
    await play(session, tone(0.512))  # the person goes on
    await play(session, silence(0.3))
    await until(lambda: any(isinstance(f, SpeechEnded) for f in frames))
    await play(session, silence(0.5))
    await session.finish()
    await consumer
    stt.assert_done()
    assert stt.heard[1].seconds > 1.0  # all of it, not only what followed the short pause
    assert [m.content for m in ctx.store.messages() if m.role == "user"] == ["What time is it?"]
    assert sum(isinstance(f, SpeechEnded) for f in frames) == 1


@dataclass
class HeldStt(ScriptedStt):
    """Transcription number `hold` (from 0) waits until `release` is set."""

    hold: int = -1
    release: threading.Event = field(default_factory=threading.Event)

    def transcribe(self, audio: Audio) -> str:
        held = len(self.heard) == self.hold
        text = super().transcribe(audio)  # (in the order of the calls)
        if held:
            self.release.wait(10)
        return text


async def test_a_prefill_a_pause_stopped_resumes_when_the_person_goes_on(ctx: TurnContext):
    backend = ctx.backend = CachingBackend(script=["Half past three."], prefill_seconds=0.5)
    # followed while talking, guessed at the short pause (still transcribing when the person
    # goes on), and the final guess
    stt = HeldStt(["What time", "What", "What time is it?"], hold=1)
    session = VoiceSession(ctx, engines(stt))
    frames: list[Frame] = []
    consumer = asyncio.create_task(collect(session, frames))
    await play(session, tone(1.056))  # a second of speech: what was said so far is prefilled
    await until(lambda: "What time" in backend.prefilled)
    await play(session, silence(0.096))  # the guess stops that prefill (it needs the cores)
    await play(session, tone(0.256))  # the person goes on: the prefill resumes
    await until(lambda: backend.prefilled.count("What time") == 2)
    stt.release.set()
    await play(session, silence(0.6))
    await session.finish()
    await consumer
    stt.assert_done()
    assert [m.content for m in ctx.store.messages() if m.role == "user"] == ["What time is it?"]


async def test_a_slow_model_gets_a_short_first_piece(ctx: TurnContext, backend: ScriptedBackend):
    reply = "I think that learning the piano is a lovely idea."
    backend.script = [reply]
    backend.delay = 0.1  # a word every 100 ms: the first phrase takes a second
    stt = ScriptedStt(["Is the piano a silly idea?"])
    tts = ToneTts()
    session = VoiceSession(ctx, engines(stt, tts))
    frames: list[Frame] = []
    consumer = asyncio.create_task(collect(session, frames))
    await play(session, tone(1.0))
    await play(session, silence(0.5))
    await until(lambda: any(isinstance(f, AudioChunk) for f in frames))  # (live, not a file)
    await session.finish()
    await consumer
    # FIRST_PIECE_WAIT (250 ms) after the first word, before the 5-word cut: what has come
    assert tts.spoken[0] in ("I think", "I think that")
    assert " ".join(tts.spoken) == reply  # nothing lost or repeated
    assert ctx.store.messages()[-1].content == reply


async def test_a_slow_model_keeps_the_speaker_fed(ctx: TurnContext, backend: ScriptedBackend):
    reply = "I think that learning the piano is a lovely idea, and it keeps the mind young."
    backend.script = [reply]
    backend.delay = 0.15
    stt = ScriptedStt(["Is the piano a silly idea?"])
    tts = ToneTts()  # 0.25 s a word
    session = VoiceSession(ctx, engines(stt, tts))
    frames: list[Frame] = []
    consumer = asyncio.create_task(collect(session, frames))
    await play(session, tone(1.0))
    await play(session, silence(0.5))
    await until(lambda: any(isinstance(f, AudioChunk) for f in frames))
    await play(session, silence(0.6))  # the short first piece has played out
    await until(lambda: len(tts.spoken) > 1)
    # the next piece did not wait for the comma after "idea": the words so far, three or more
    assert len(tts.spoken[1].split()) >= 3 and tts.spoken[1][-1].isalpha()
    await session.finish()
    await consumer
    assert " ".join(tts.spoken) == reply
    assert ctx.store.messages()[-1].content == reply


async def test_a_short_first_clause_is_not_followed_by_silence(
    ctx: TurnContext, backend: ScriptedBackend
):
    """ "Sure," ends at a comma, not at a word count; the speaker is kept fed after it too."""
    reply = "Sure, you could take a long walk along the river before dinner tonight."
    backend.script = [reply]
    backend.delay = 0.15
    tts = ToneTts()  # 0.25 s a word
    session = VoiceSession(ctx, engines(ScriptedStt(["Any idea for tonight?"]), tts))
    frames: list[Frame] = []
    consumer = asyncio.create_task(collect(session, frames))
    await play(session, tone(1.0))
    await play(session, silence(0.5))
    await until(lambda: any(isinstance(f, AudioChunk) for f in frames))
    await play(session, silence(0.6))  # "Sure," has played out
    await until(lambda: len(tts.spoken) > 1)
    assert tts.spoken[0] == "Sure,"
    assert 3 <= len(tts.spoken[1].split()) < 9  # the words so far, not the whole sentence
    await session.finish()
    await consumer
    assert " ".join(tts.spoken) == reply


def test_the_embedded_model_is_found_behind_the_fair_queue() -> None:
    model = CachingBackend()
    assert prompt_cache(FairBackend(model).for_user("alice")) is model
    assert prompt_cache(model) is model
    assert prompt_cache(FairBackend(ScriptedBackend()).for_user("alice")) is None


@dataclass
class AheadMemory:
    """Memory that records how a voice call uses notes chosen ahead."""

    ahead: list[str] = field(default_factory=list)
    asked: list[tuple[str, str | None, int]] = field(default_factory=list)
    held: list[bool] = field(default_factory=list)

    async def notes_ahead(self, query: str, now: object) -> str:
        self.ahead.append(query)
        return f"- chosen ahead, for: {query}"

    async def notes_for(
        self, query: str, now: object, keep: str | None = None, more: int = 0
    ) -> str:
        self.asked.append((query, keep, more))
        return keep if keep is not None else "- recalled for the message"

    async def observe(self, messages: Sequence[object]) -> None:
        pass

    def hold(self, held: bool) -> None:
        self.held.append(held)

    def shown(self) -> dict[int, str]:
        return {}

    def show(self, message_id: int, notes: str) -> None:
        pass


async def test_a_call_uses_notes_chosen_ahead_and_holds_extraction(
    ctx: TurnContext, backend: ScriptedBackend
):
    sid = ctx.store.start_session()
    ctx.store.add_message(sid, "user", "I swam in the sea")
    ctx.store.add_message(sid, "assistant", "How cold was it?")
    memory = AheadMemory()
    ctx.memory = memory
    backend.script = ["Your sister is Anna."]
    session = VoiceSession(ctx, engines(ScriptedStt(["who is my sister?"])))
    await one_utterance(session)
    assert memory.ahead[0] == "I swam in the sea How cold was it?"  # the last exchange
    assert memory.held == [True, False]  # extraction waited for the call to end
    notes = backend.calls[-1].messages[-2]
    assert notes.role == "system" and "chosen ahead, for: I swam in the sea" in notes.content
    assert ("who is my sister?", "- chosen ahead, for: I swam in the sea How cold was it?", 0) in (
        memory.asked
    )  # the turn took them as they were (no lines added after the person stopped)
