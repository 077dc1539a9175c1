"""A live voice conversation: audio in, frames out, with barge-in. The API the server wraps.

Contract (for a WebSocket or any other transport):

    session = VoiceSession(ctx, engines, input_rate=16000, output_rate=24000)
    session.greet()                     # the OS speaks first if the first meeting is not done
    session.feed(pcm16_bytes)           # mono PCM16 little-endian at input_rate, any chunking,
                                        # in real time, on the event loop's thread
    async for frame in session.frames():  # until finish()/aclose(); see os1.voice.frames
        SpeechStarted / SpeechEnded     the user's voice (input-stream seconds)
        Transcript(text, prosody)       what was heard ('' -> it says "I didn't catch that")
        ReplyText, AudioChunk           the reply, clause by clause: play the audio at once
        BargeIn(message_id, played)     the user spoke over it: stop playback NOW, drop what
                                        is buffered; no audio of that reply follows
        ReplyEnded(message_id, status, text)   what is stored for the reply
        Notice(message)                 one sentence for the user
    await session.finish()              # input ended: finish the reply, then frames() ends
    await session.aclose()              # hang up: cancel everything, frames() ends

Time is the input stream's: the transport feeds microphone audio in real time, so input
samples are the clock for playback too. Audio is assumed to play as soon as it is handed out
(one chunk after another); what was played at barge-in, and so what the stored transcript
keeps, is computed on that clock. The same playback timeline gives the echo gate its
reference (os1.voice.listener), so without echo cancellation the OS does not hear itself.

Pipeline: feed -> 32 ms frames -> Listener (VAD, endpoint, echo gate) -> on the endpoint, a
reply task: STT in a thread -> run_turn -> ClauseSplitter -> TTS in a thread, clause by
clause, while the model keeps generating -> frames.

Speculation (latency): 64 ms into a pause the utterance so far is transcribed in a thread (a
guess). The words decide the endpoint: a question ends it 192 ms into the pause (a plain pause
takes 280 ms, see os1.voice.listener); a trailing "and", "um" or comma waits longer; a
statement waits a little longer than the plain hangover, as a comma pause would. With an
embedded model, the prompt the guess would make is evaluated while the endpoint waits
(`prewarm(ctx, text)`: nothing is stored; the prefill gives the model up to the real turn
within a chunk of tokens), so when the final text equals or extends the guess the reply only
evaluates what differs. If the person goes on after a pause of at least 128 ms, the guess is
kept as the start of the utterance and only the rest is transcribed (after a shorter one it is
dropped: Whisper hears a phrase cut between two words badly). While the person talks, what they
have said so far is transcribed about once a second and its prompt evaluated the same way, so
at the end most of its words are already in the cache (a pause stops that prefill, since the
guess's transcription needs the cores; it resumes if the person goes on). Unless the guess
trails off, the reply to it starts being generated at once (os1.voice.speculation) while the
endpoint waits (192 ms after a question, the longer silence after a statement), and its first
piece is synthesised as soon as it is written; the turn takes that generation over if its
prompt is the same, and plays that audio if its first piece is the same text. Speech resuming
cancels both at the first voiced frame. run_turn only ever sees the final text; nothing
speculative is stored, and nothing is played before the endpoint.

First sound: the model and the TTS share the CPU, so generation pauses between tokens while
the reply's first piece is synthesised (the rest has that piece's playback time to catch up).
A slow model does not hold the sound until a phrase is complete: FIRST_PIECE_WAIT after the
first words, the complete words so far (two at least) become the first piece, and a first run
without punctuation is cut at two words anyway (os1.voice.clauses). After the first piece,
whenever what is left to play runs out within FEED_MARGIN and nothing else is being
synthesised, the words so far (LATER_CUT_WORDS at least) are the next piece, so a short first
piece ("Sure,") is not followed by silence while the model finishes its next phrase.

Barge-in = an Onset while a reply is generating or playing: data frames are dropped, the
reply task is cancelled (run_turn stops, the backend stops within a token), and the reply is
stored as what was played, `interrupted`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Coroutine
from contextlib import AbstractContextManager, aclosing
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from os1.context import TurnContext
from os1.conversation import prewarm, prompt_cache, prompt_for, reply_options, run_turn
from os1.errors import UserError
from os1.events import (
    ErrorEvent,
    IdentityChanged,
    MessageStored,
    TextDelta,
    TurnEnded,
    TurnStarted,
)
from os1.inputs import clean_user_text
from os1.notes_ahead import NotesAhead
from os1.storage.offload import off_loop
from os1.voice import prosody as prosody_store
from os1.voice.audio import STT_RATE, Audio, Samples, from_pcm16, to_pcm16
from os1.voice.catalog import VoiceEngines
from os1.voice.clauses import ClauseSplitter
from os1.voice.engines import FRAME, TextToSpeech
from os1.voice.frames import (
    AudioChunk,
    BargeIn,
    DataFrame,
    Frame,
    Notice,
    ReplyEnded,
    ReplyText,
    SpeechEnded,
    SpeechStarted,
    Transcript,
)
from os1.voice.guesses import (
    Ahead,
    FirstPiece,
    Guess,
    join_heard,
    sounds_finished,
    trails_off,
)
from os1.voice.listener import Endpoint, Listener, ListenSettings, Onset, Pause, rms
from os1.voice.prosody import Prosody, measure
from os1.voice.speculation import SpeculatingBackend, Speculation

DIDNT_CATCH = "Sorry, I didn't catch that."
FOLLOW_EVERY = STT_RATE  # new speech between transcripts taken while the person talks
FOLLOW_MAX = 10 * STT_RATE  # ... while what is transcribed fits Whisper's short window
KEEP_GUESS_AFTER = STT_RATE * 128 // 1000  # a guess is kept past a pause at least this long
ECHO_DELAY = STT_RATE // 10  # the echo may lag what we hand out by up to 100 ms
FIRST_PIECE_WAIT = 0.25  # s after the first words: then the first piece is what has come
FEED_MARGIN = 0.3  # s of audio left to play: then the next piece is what has come ...
LATER_CUT_WORDS = 3  # ... if it has this many words


@dataclass
class _Segment:
    message_id: int | None
    text: str
    start: int  # on the input clock (16 kHz samples)
    audio: Samples  # at 16 kHz, the echo reference

    @property
    def end(self) -> int:
        return self.start + len(self.audio)


_Spoken = tuple[int | None, str] | TurnEnded | None  # a clause, an end marker, or the end


@runtime_checkable
class _SharesCores(Protocol):
    """A backend computing on this machine's cores, which can hold generation between tokens
    (the embedded model)."""

    def yield_cores(self) -> AbstractContextManager[None]: ...


class VoiceSession:
    def __init__(
        self,
        ctx: TurnContext,
        engines: VoiceEngines,
        *,
        settings: ListenSettings | None = None,
        input_rate: int = STT_RATE,
        output_rate: int | None = None,
    ) -> None:
        self.ctx = ctx
        self.engines = engines
        self.listener = Listener(engines.vad(), settings)
        self.input_rate = input_rate
        self.output_rate = output_rate
        self._queue: asyncio.Queue[Frame | BaseException | None] = asyncio.Queue()
        self._pending = np.zeros(0, dtype=np.float32)
        self._odd = b""
        self._reply: asyncio.Task[None] | None = None
        self._reply_id: int | None = None
        self._segments: list[_Segment] = []
        self._play_end = 0
        self._input_ended = False
        self._background: set[asyncio.Task[None]] = set()
        self._closed = False
        self._unplayed_ends: list[ReplyEnded] = []
        # An utterance not yet committed as a message (its transcript once known); if more
        # speech cuts its reply off, it is heard again as the start of the next one.
        self._unanswered: tuple[Audio, str | None] | None = None
        self._carry: tuple[Audio, str | None] | None = None
        self._guess: Guess | None = None
        self._heard = ("", 0)  # the utterance in progress: text of its parts so far, samples
        # Only the embedded model keeps the previous prompt evaluated (a remote server's queue
        # is not spent on guesses); the fair queue in front of it is looked through.
        self._model = prompt_cache(ctx.backend)
        self._warm = self._model is not None
        self._warming: asyncio.Task[None] | None = None
        self._warm_args: tuple[str, bool] = ("", False)  # (text, relaxed) of the last prewarm
        self._paused_warm: tuple[int, str, bool] | None = None  # one a pause stopped, and where
        self._following: asyncio.Future[str] | None = None
        self._followed = 0  # samples of the utterance in progress the last follow-up covered
        self._ahead: Ahead | None = None
        self._notes = NotesAhead(ctx)  # memory notes chosen ahead (os1.notes_ahead)
        self._planned = False
        self._hanging_up = False

    # --- input ------------------------------------------------------------------------------

    @property
    def now(self) -> int:
        """The input clock: samples (16 kHz) heard so far."""
        return self.listener.position

    def feed(self, pcm16: bytes) -> None:
        data = self._odd + pcm16
        self._odd = data[len(data) - len(data) % 2 :]
        self.feed_audio(from_pcm16(data[: len(data) - len(self._odd)], self.input_rate))

    def feed_audio(self, audio: Audio) -> None:
        if self._closed or self._input_ended:
            return
        if not self._planned:  # notes, persona and history, before the first turn
            self._planned = True
            self._notes.hold(True)
            self._plan()
        self._pending = np.concatenate([self._pending, audio.at(STT_RATE).samples])
        while len(self._pending) >= FRAME:
            frame, self._pending = self._pending[:FRAME], self._pending[FRAME:]
            reference = self._reference_rms(self.now)
            for event in self.listener.push(frame, reference, busy=self.busy):
                self._on_listen(event)
            if self._ahead is not None and self.listener.last_voiced != self._ahead.last_voiced:
                self._drop_ahead()  # the person goes on: that guess was not the end
            self._went_on()
            if self._warm:
                self._follow_speech()
            self._announce_ends()

    def _announce_ends(self) -> None:
        if self._unplayed_ends and (self._input_ended or self.now >= self._play_end):
            for ended in self._unplayed_ends:
                self._emit(ended)
            self._unplayed_ends.clear()

    def _on_listen(self, event: Onset | Pause | Endpoint) -> None:
        if isinstance(event, Onset):
            self._followed = 0
            self._emit(SpeechStarted(event.start / STT_RATE))
            if self.busy:
                self._barge_in()
            return
        guess = self._take_guess(event.last_voiced)
        ahead, self._ahead = self._ahead, None
        if ahead is not None and (
            isinstance(event, Pause) or ahead.last_voiced != event.last_voiced
        ):
            ahead.drop()
            ahead = None
        if isinstance(event, Pause):
            if self._warming is not None and not self._warming.done():  # the guess needs
                self._warming.cancel()  # the cores; if the person goes on, it goes on too
                self._paused_warm = (event.last_voiced, *self._warm_args)
            self._start_guess(event)
            return
        self._paused_warm = None
        self._emit(SpeechEnded(event.last_voiced / STT_RATE))
        (prefix, start), self._heard = self._heard, ("", 0)
        pending = guess.words if guess is not None else None
        utterance, carried, self._carry = event.audio, self._carry, None
        if carried is not None and carried[1] is not None:  # its words are known: keep them
            prefix, start = join_heard(carried[1], prefix), len(carried[0].samples) + start
            parts = [carried[0].samples, event.audio.samples]
            utterance = Audio(np.concatenate(parts).astype(np.float32), STT_RATE)
        elif carried is not None:  # hear it all again
            gap = np.zeros(STT_RATE // 5, dtype=np.float32)
            parts = [carried[0].samples, gap, event.audio.samples]
            utterance = Audio(np.concatenate(parts).astype(np.float32), STT_RATE)
            prefix, start, pending = "", 0, None
        self._start_reply(self._respond(utterance, prefix, start, pending, ahead))

    # --- speculation ------------------------------------------------------------------------

    def _went_on(self) -> None:
        """After a pause the person goes on: a guess from a pause under KEEP_GUESS_AFTER is not
        kept as the start of the utterance (Whisper hears a phrase cut between two words badly:
        "what? Time is it."), and the prefill the pause stopped resumes where it was."""
        guess, listener = self._guess, self.listener
        since = listener.last_voiced - guess.last_voiced if guess is not None else 0
        if 0 < since < FRAME + KEEP_GUESS_AFTER:  # (`since` spans the pause and a voiced frame)
            self._guess = None
        paused = self._paused_warm
        if paused is not None and listener.speaking and listener.last_voiced != paused[0]:
            self._paused_warm = None
            self._prewarm(paused[1], relaxed=paused[2])

    def _take_guess(self, last_voiced: int) -> Guess | None:
        """The current guess if it is about this very pause; an older one whose pause the
        person talked through becomes the known start of the utterance."""
        guess, self._guess = self._guess, None
        if guess is not None and guess.last_voiced == last_voiced:
            return guess
        if guess is not None and guess.text is not None:
            self._heard = (guess.text, guess.cut)
        return None

    def _follow_speech(self) -> None:
        """While the person talks, transcribe what they have said about once a second and
        evaluate that prompt, so that at the end only the last words are new to the model."""
        listener, (prefix, start) = self.listener, self._heard
        if not listener.speaking or listener.last_voiced != self.now or self.busy:
            return
        if self._following is not None and not self._following.done():
            return
        if self._guess is not None and not self._guess.words.done():
            return
        audio = listener.so_far()
        part = Audio(audio.samples[start:], STT_RATE)
        if len(audio.samples) - self._followed < FOLLOW_EVERY or len(part.samples) > FOLLOW_MAX:
            return
        self._followed = len(audio.samples)
        words = asyncio.get_running_loop().run_in_executor(None, self.engines.stt.transcribe, part)
        self._following = words

        def heard(done: asyncio.Future[str]) -> None:
            if done.cancelled() or done.exception() is not None or self._closed:
                return
            # still talking (in a pause, the guess owns the prefill)
            if listener.speaking and self.now - listener.last_voiced < FRAME:
                self._prewarm(join_heard(prefix, done.result()), top_up=True)

        words.add_done_callback(heard)

    def _start_guess(self, pause: Pause) -> None:
        prefix, start = self._heard
        part = Audio(pause.audio.samples[start:], STT_RATE)
        loop = asyncio.get_running_loop()
        words = loop.run_in_executor(None, self.engines.stt.transcribe, part)
        guess = Guess(pause.last_voiced, len(pause.audio.samples), prefix, words)
        self._guess = guess
        words.add_done_callback(lambda _: self._on_guess(guess))

    def _on_guess(self, guess: Guess) -> None:
        text = guess.text  # (this also retrieves a failure; the endpoint re-raises it)
        listener = self.listener
        if text is None or self._closed or self._guess is not guess:
            return
        if not listener.speaking or listener.last_voiced != guess.last_voiced:
            return
        finished = sounds_finished(text)
        if finished:
            ended = listener.end_now()
            if ended is not None:
                self._on_listen(ended)
            elif self._warm:  # it ends in a few frames: the reply starts meanwhile
                self._speculate(text, guess.last_voiced)
            return
        trailing = trails_off(text)
        if finished is False:
            settings = listener.settings
            listener.hold(
                settings.unfinished_hangover_ms if trailing else settings.statement_hangover_ms
            )
        if self._warm and not trailing:  # it may well be the end: start the reply
            self._speculate(text, guess.last_voiced)
        elif self._warm:  # the prefill gives way to the real turn within a chunk
            self._prewarm(text, top_up=True)

    def _speculate(self, text: str, last_voiced: int) -> None:
        """Start generating the reply run_turn would ask the model for if `text` is the
        whole utterance (see os1.voice.speculation); the endpoint of this pause takes it."""
        self._drop_ahead()
        if self._warming is not None:  # the generation evaluates the prompt itself
            self._warming.cancel()
        ctx = self.ctx

        async def start() -> Speculation | None:
            identity = await off_loop(ctx.store.get_identity)
            if not identity.onboarded:
                return None
            try:
                clean = clean_user_text(text, ctx.config.max_input_chars)
                history = await off_loop(ctx.store.messages, limit=400)
                notes = await self._notes_for(clean)
                prompt = prompt_for(ctx, clean, history=history, notes=notes, identity=identity)
            except UserError:  # the real turn will say so
                return None
            speculation = Speculation(ctx.backend, prompt.messages, reply_options(ctx, prompt))
            ahead.voicing = asyncio.get_running_loop().create_task(self._voice_first(speculation))
            return speculation

        ahead = Ahead(last_voiced, asyncio.get_running_loop().create_task(start()))
        self._ahead = ahead

    async def _voice_first(self, speculation: Speculation) -> FirstPiece | None:
        """Synthesise the speculative reply's first piece as soon as it is written (the turn
        plays it if its own first piece is the same text, in the same voice)."""
        tts = await self._voice()
        splitter, started = ClauseSplitter(), False
        pieces: list[str] = []
        async with aclosing(speculation.events()) as events:
            async for event in events:
                if isinstance(event, TextDelta):  # as run_turn passes it on: no leading blanks
                    text = event.text if started else event.text.lstrip()
                    started = started or bool(text)
                    if pieces := splitter.push(text):
                        break
        if not pieces:
            return None

        async def synthesize() -> Audio:
            with self._cores_to_speech():  # as the turn's own first piece would
                return await asyncio.to_thread(tts.synthesize, pieces[0])

        return FirstPiece(tts, pieces[0], asyncio.get_running_loop().create_task(synthesize()))

    def _drop_ahead(self) -> None:
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            ahead.drop()

    async def _notes_for(self, text: str) -> str:
        """The notes run_turn will use for `text` (those chosen ahead, topped up)."""
        memory, ahead = self.ctx.memory, self._notes.text
        if memory is None:
            return ""
        if ahead is None:
            return await memory.notes_for(text, self.ctx.clock())
        return await memory.notes_for(text, self.ctx.clock(), keep=ahead)

    def _plan(self) -> None:
        """Choose the next utterance's notes, then evaluate them with the history, unless the
        person is already talking (their own prefill does it then)."""
        if self._input_ended or self._hanging_up:
            return

        async def plan() -> None:
            with contextlib.suppress(Exception):  # only an optimisation: the turn recalls
                await self._notes.plan()
            if self._warm and not self.listener.speaking and not self._closed:
                self._prewarm("", relaxed=True)

        task = asyncio.get_running_loop().create_task(plan())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _prewarm(self, text: str, *, top_up: bool = False, relaxed: bool = False) -> None:
        """Evaluate the prompt ahead (embedded model only); a newer guess replaces an older
        one still being evaluated. `top_up`: first let `text` add to the notes chosen ahead.
        `relaxed`: in larger chunks until someone talks (a turn may come then)."""
        if self._warming is not None:
            self._warming.cancel()
        self._warm_args, self._paused_warm = (text, relaxed), None
        listener = self.listener

        def quiet() -> bool:  # (read from the model's thread: a plain attribute)
            return not listener.speaking

        async def warm() -> None:
            with contextlib.suppress(Exception):  # only an optimisation: the turn reports
                if top_up:
                    await self._notes.top_up(text)
                notes = self._notes.text or ""
                await prewarm(self.ctx, text, notes, quiet if relaxed else None)

        self._warming = asyncio.get_running_loop().create_task(warm())
        self._background.add(self._warming)
        self._warming.add_done_callback(self._background.discard)

    @property
    def busy(self) -> bool:
        """A reply is being prepared, generated or played."""
        return (self._reply is not None and not self._reply.done()) or self.now < self._play_end

    def respond_to(self, utterance: Audio) -> None:
        """Answer one whole recorded utterance (file mode); the input counts as ended, so
        nothing can interrupt and every word of the reply counts as played."""
        self._input_ended = True
        self._start_reply(self._respond(utterance))

    def greet(self) -> None:
        """Let the OS speak first (the opening of the first meeting); nothing after it."""
        if not self.ctx.store.get_identity().onboarded:
            self._start_reply(self._speak_turn(None, None))

    # --- output -----------------------------------------------------------------------------

    async def frames(self) -> AsyncIterator[Frame]:
        while (item := await self._queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item

    def _emit(self, frame: Frame) -> None:
        self._queue.put_nowait(frame)

    def _drop_data(self) -> None:
        kept: list[Frame | BaseException | None] = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if not isinstance(item, DataFrame):
                kept.append(item)
        for item in kept:
            self._queue.put_nowait(item)

    def _play(self, message_id: int | None, text: str, audio: Audio, tts_rate: int) -> None:
        out = audio.at(self.output_rate or tts_rate)
        self._emit(ReplyText(message_id, text))
        self._emit(AudioChunk(message_id, to_pcm16(out), out.rate))
        start = max(self.now, self._play_end)
        self._segments.append(_Segment(message_id, text, start, audio.at(STT_RATE).samples))
        self._play_end = start + len(self._segments[-1].audio)

    def _reference_rms(self, position: int) -> float:
        if position >= self._play_end + ECHO_DELAY:
            return 0.0
        lo, hi = position - ECHO_DELAY, position + FRAME
        parts = [
            s.audio[max(0, lo - s.start) : max(0, hi - s.start)]
            for s in self._segments
            if s.start < hi and s.end > lo
        ]
        return rms(np.concatenate(parts)) if parts else 0.0

    def played_text(self, message_id: int | None) -> str:
        """The words of reply `message_id` heard so far (by the playback clock)."""
        now = self._play_end if self._input_ended else self.now
        words: list[str] = []
        for s in self._segments:
            if s.message_id != message_id or now <= s.start:
                continue
            if now >= s.end:
                words.append(s.text)
            else:
                spoken = s.text.split()
                heard = int(len(spoken) * (now - s.start) / max(1, len(s.audio)))
                words.extend(spoken[:heard])
        return " ".join(words)

    # --- replies ----------------------------------------------------------------------------

    def _start_reply(self, work: Coroutine[Any, Any, None]) -> None:
        async def run() -> None:
            try:
                await work
            except UserError as e:
                self._emit(Notice(e.sentence))
            except asyncio.CancelledError:
                raise
            except Exception as e:  # a bug: hand it to the consumer, who re-raises it
                self._queue.put_nowait(e)

        self._segments = [s for s in self._segments if s.end > self.now]
        self._reply_id = None
        self._reply = asyncio.get_running_loop().create_task(run())

    async def _respond(
        self,
        utterance: Audio,
        prefix: str = "",
        start: int = 0,
        pending: asyncio.Future[str] | None = None,
        ahead: Ahead | None = None,
    ) -> None:
        try:
            await self._answer(utterance, prefix, start, pending, ahead)
        finally:
            if ahead is not None:  # not taken, or taken and over: stop the model
                ahead.drop()
            self._plan()  # while the reply plays: the next turn's notes

    async def _answer(
        self,
        utterance: Audio,
        prefix: str,
        start: int,
        pending: asyncio.Future[str] | None,
        ahead: Ahead | None,
    ) -> None:
        self._unanswered = (utterance, None)
        text = ""
        if self._has_speech(utterance):
            if pending is not None:  # transcribed speculatively, during the pause
                rest = await pending
            else:
                part = Audio(utterance.samples[start:], STT_RATE)
                rest = await asyncio.to_thread(self.engines.stt.transcribe, part)
            text = join_heard(prefix, rest)
            self._unanswered = (utterance, text)
        said = measure(utterance, text)
        self._emit(Transcript(text, said))
        if not text.strip():
            self._unanswered = None
            self._emit(Notice(DIDNT_CATCH))
            tts = await self._voice()
            await self._speak(tts, None, DIDNT_CATCH)
            self._unplayed_ends.append(ReplyEnded(None, "complete", DIDNT_CATCH))
            self._announce_ends()
            return
        ctx, first = self.ctx, None
        if ahead is not None:
            with contextlib.suppress(Exception):  # only an optimisation: the turn reports
                speculation = await asyncio.shield(ahead.started)
                if speculation is not None:  # run_turn takes it if it asks for the same
                    ctx = dataclasses.replace(
                        ctx, backend=SpeculatingBackend(ctx.backend, speculation)
                    )
                    first = ahead
        await self._speak_turn(text, said, ctx, first)

    def _has_speech(self, utterance: Audio) -> bool:
        """Whisper invents words for noise; ask a fresh listener whether anyone spoke at all."""
        listener = Listener(self.engines.vad(), self.listener.settings)
        samples = utterance.at(STT_RATE).samples
        frames = (samples[i : i + FRAME] for i in range(0, len(samples) - FRAME + 1, FRAME))
        return any(isinstance(e, Onset) for frame in frames for e in listener.push(frame))

    async def _voice(self) -> TextToSpeech:
        voice = self.ctx.store.get_identity().voice
        return await asyncio.to_thread(self.engines.voices.tts, voice)

    async def _speak(
        self, tts: TextToSpeech, message_id: int | None, text: str, ready: Audio | None = None
    ) -> None:
        audio = ready if ready is not None else await asyncio.to_thread(tts.synthesize, text)
        if len(audio.samples):
            self._play(message_id, text, audio, audio.rate)

    @staticmethod
    async def _voiced_ahead(ahead: Ahead | None, tts: TextToSpeech, text: str) -> Audio | None:
        """The audio of `text` if it was the speculative first piece, voiced alike."""
        if ahead is None:
            return None
        first = ahead.first_piece()
        if first is None or first.text != text or first.tts is not tts or first.audio.cancelled():
            ahead.drop_voice()  # (not needed: leave the cores to the reply)
            return None
        with contextlib.suppress(Exception):  # only an optimisation: synthesise it again
            return await asyncio.shield(first.audio)
        return None

    def _runs_dry(self) -> bool:
        """What is left to play ends within FEED_MARGIN (the next piece must be cut now)."""
        return self._play_end - self.now < FEED_MARGIN * STT_RATE

    def _cores_to_speech(self) -> AbstractContextManager[None]:
        if isinstance(self._model, _SharesCores):
            return self._model.yield_cores()
        return contextlib.nullcontext()

    async def _speak_turn(
        self,
        text: str | None,
        said: Prosody | None,
        ctx: TurnContext | None = None,
        ahead: Ahead | None = None,
    ) -> None:
        """run_turn, spoken clause by clause while the model is still writing (the first
        piece may have been voiced ahead, with the reply it was speculatively written in)."""
        ctx = ctx or self.ctx
        spoken: asyncio.Queue[_Spoken] = asyncio.Queue()
        tts = await self._voice()

        unplayed = 0  # pieces handed to speak() and not yet playing
        live = not self._input_ended  # played as it comes (not a file): keep the speaker fed

        def say(pieces: list[str], message_id: int | None) -> None:
            nonlocal unplayed
            for piece in pieces:
                unplayed += 1
                spoken.put_nowait((message_id, piece))

        async def produce() -> None:
            nonlocal tts
            splitter = ClauseSplitter()
            hurry: asyncio.TimerHandle | None = None

            def first_piece_now() -> None:  # the model is slow to finish its first phrase
                nonlocal hurry
                hurry = None
                if not splitter.started:
                    say(splitter.cut(), self._reply_id)
                if not splitter.started:  # not even two words yet
                    hurry = asyncio.get_running_loop().call_later(FIRST_PIECE_WAIT, first_piece_now)

            try:
                async with aclosing(run_turn(ctx, text, notes=self._notes.text)) as events:
                    async for event in events:
                        if isinstance(event, MessageStored) and said is not None:
                            self._unanswered = None  # committed: never heard twice
                            prosody_store.save(self.ctx.store, event.message_id, said)
                        elif isinstance(event, TurnStarted):
                            self._reply_id = event.message_id
                            splitter = ClauseSplitter()
                        elif isinstance(event, TextDelta):
                            say(splitter.push(event.text), self._reply_id)
                            if not live:
                                continue
                            if not splitter.started and hurry is None:
                                hurry = asyncio.get_running_loop().call_later(
                                    FIRST_PIECE_WAIT, first_piece_now
                                )
                            elif splitter.started and unplayed == 0 and self._runs_dry():
                                say(splitter.cut(LATER_CUT_WORDS), self._reply_id)
                        elif isinstance(event, TurnEnded):
                            say(splitter.flush(), self._reply_id)
                            spoken.put_nowait(event)
                        elif isinstance(event, ErrorEvent):
                            self._emit(Notice(event.message))
                            say([event.message], None)
                        elif isinstance(event, IdentityChanged) and event.voice:
                            voice = event.voice
                            tts = await asyncio.to_thread(self.engines.voices.tts, voice)
            finally:
                if hurry is not None:
                    hurry.cancel()
                spoken.put_nowait(None)

        async def speak() -> None:
            nonlocal unplayed
            first = True
            while (item := await spoken.get()) is not None:
                if isinstance(item, TurnEnded):  # announced once it has been played out
                    self._unplayed_ends.append(ReplyEnded(item.message_id, item.status, item.text))
                    self._announce_ends()
                    continue
                message_id, piece = item
                ready = await self._voiced_ahead(ahead, tts, piece) if first else None
                # The first sound waits for this synthesis alone; the rest of the reply has
                # the first piece's playback time to catch up.
                with self._cores_to_speech() if first else contextlib.nullcontext():
                    await self._speak(tts, message_id, piece, ready)
                unplayed -= 1
                first = False

        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(produce())
                group.create_task(speak())
        except BaseExceptionGroup as errors:  # one side failed: surface that error as itself
            raise errors.exceptions[0] from None

    # --- interruption and the end -----------------------------------------------------------

    def _barge_in(self) -> None:
        message_id = self._reply_id
        played = self.played_text(message_id)
        self._drop_data()
        self._unplayed_ends.clear()
        self._emit(BargeIn(message_id, played, self.now / STT_RATE))
        for s in self._segments:  # playback stops here: cut the echo reference too
            s.audio = s.audio[: max(0, self.now - s.start)]
        self._play_end = min(self._play_end, self.now)
        task, self._reply, self._reply_id = self._reply, None, None
        # A pause mid-sentence ended the utterance early and the person went on: what they
        # said before the pause has not been answered or stored, so hear it with the rest.
        self._carry, self._unanswered = self._unanswered, None
        if task is not None:
            task.cancel()

        async def settle() -> None:
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if message_id is not None:  # after run_turn's own bookkeeping, keep what was heard
                self.ctx.store.update_message(message_id, played, "interrupted")
                self._emit(ReplyEnded(message_id, "interrupted", played))

        cleanup = asyncio.get_running_loop().create_task(settle())
        self._background.add(cleanup)
        cleanup.add_done_callback(self._background.discard)

    async def finish(self) -> None:
        """The input is over: answer what was said last, let the reply finish, end frames()."""
        if not self._input_ended:
            ended = self.listener.finish()
            if ended is not None:
                self._on_listen(ended)
            self._input_ended = True
        self._drop_ahead()
        if self._reply is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reply
        await self._settle_background()
        self._announce_ends()
        self._end_call()

    async def aclose(self) -> None:
        """Hang up: an unfinished reply is kept as what was played, interrupted."""
        if self._closed:
            return
        self._hanging_up = True
        if self.busy:
            self._barge_in()
        self._drop_ahead()
        await self._settle_background()
        self._end_call()

    def _end_call(self) -> None:
        if self._planned:
            self._notes.hold(False)  # memory's extraction may run now
        self._closed = True
        self._queue.put_nowait(None)

    async def _settle_background(self) -> None:
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)


__all__ = ["DIDNT_CATCH", "VoiceSession"]
