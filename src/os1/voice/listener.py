"""Turn a stream of 32 ms frames into utterances: VAD with hysteresis, endpointing, echo gate.

    push(frame, reference_rms) -> [Onset | Pause | Endpoint]

`Onset` fires once speech has lasted `min_speech_ms` (120 ms: a click never starts anything),
or `min_barge_in_ms` (250 ms) while the OS is talking, so coughs and short noises do not
interrupt it. Hysteresis both ways: a sound counts as voiced from its first frame above
`keep_threshold`, and is speech once one of its frames passes `threshold` (Silero's
probability rises over the first frames of a word, so a short "Hi." would otherwise have only
its last few frames counted, and be missed). `Endpoint` fires
`hangover_ms` after the last voiced frame (or at `max_utterance_s`) and carries the utterance
with `preroll_ms` of audio before the onset, so the recogniser hears the first consonant.

`Pause` fires once per silence, `pause_ms` (64 ms) into it, with the utterance so far: the
session transcribes it speculatively and then decides, from the words, whether to end the
utterance `finished_hangover_ms` (192 ms) into the pause (`end_now()`, after a question), to
wait longer (`hold(ms)`, after "and", "um" or a comma), or to let the hangover decide. A hold
lasts for the rest of the utterance; an end decided in a pause is void once the person goes
on. The guess starts that early so that its transcription (~70-100 ms) overlaps the silence a
question needs anyway.

Echo gate (for speakers without echo cancellation): while the OS is talking the caller passes
the RMS of what is being played around this moment. A frame counts as the user's voice only if
it is louder than `echo_margin` times the echo we expect, where the echo gain (mic level /
playback level) is learnt from the frames that did not pass the gate. The OS's own voice
leaking into the mic is therefore not speech; a person talking over it (louder than the leak)
still is, so barge-in keeps working.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from os1.voice.audio import STT_RATE, Audio, Samples
from os1.voice.engines import FRAME, SpeechDetector

FRAME_MS = FRAME * 1000 / STT_RATE


@dataclass(frozen=True, slots=True)
class ListenSettings:
    threshold: float = 0.5  # speech probability to start
    keep_threshold: float = 0.35  # and to keep going (hysteresis)
    min_speech_ms: float = 120.0  # shorter sounds (clicks) never start a turn
    min_barge_in_ms: float = 250.0  # while the OS talks, coughs and short noises are ignored
    hangover_ms: float = 280.0  # silence that ends an utterance
    pause_ms: float = 64.0  # silence after which the session guesses what was said
    finished_hangover_ms: float = 192.0  # ... and ends it when the guess sounds finished
    statement_hangover_ms: float = 420.0  # ... when the guess ends with "." (a comma pause?)
    unfinished_hangover_ms: float = 900.0  # ... when it ends with "and", "um", a comma
    preroll_ms: float = 300.0
    max_utterance_s: float = 60.0
    min_rms: float = 0.003  # about -50 dBFS: quieter frames are not speech whatever the VAD says
    echo_margin: float = 2.0
    initial_echo_gain: float = 0.5


@dataclass(frozen=True, slots=True)
class Onset:
    """Speech confirmed; it began at input sample `start` (16 kHz)."""

    start: int
    confirmed: int


@dataclass(frozen=True, slots=True)
class Pause:
    """`pause_ms` of silence after speech; `audio` is the utterance so far (as an Endpoint
    now would carry it), `last_voiced` identifies this pause."""

    audio: Audio
    last_voiced: int


@dataclass(frozen=True, slots=True)
class Endpoint:
    """An utterance ended; `last_voiced` is the input sample just after its last voiced frame."""

    audio: Audio
    last_voiced: int
    forced: bool


def rms(x: Samples) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


class Listener:
    def __init__(self, vad: SpeechDetector, settings: ListenSettings | None = None) -> None:
        self.vad = vad
        self.settings = s = settings or ListenSettings()
        self.echo_gain = s.initial_echo_gain
        self._preroll: deque[Samples] = deque(maxlen=max(1, round(s.preroll_ms / FRAME_MS)))
        self._min_frames = max(1, round(s.min_speech_ms / FRAME_MS))
        self._barge_frames = max(1, round(s.min_barge_in_ms / FRAME_MS))
        self._hang_frames = max(1, round(s.hangover_ms / FRAME_MS))
        self._pause_frames = max(1, round(s.pause_ms / FRAME_MS))
        self._finished_frames = max(self._pause_frames, round(s.finished_hangover_ms / FRAME_MS))
        self._max_frames = round(s.max_utterance_s * 1000 / FRAME_MS)
        self.position = 0  # input samples consumed
        self._reset_utterance()

    def _reset_utterance(self) -> None:
        self.speaking = False
        self._frames: list[Samples] = []
        self._start = 0
        self._voiced = 0
        self._strong = False  # a frame of this sound passed `threshold`
        self._gap = 0
        self._last_voiced = 0
        self._kept = 0  # frames of _frames up to the last voiced one
        self._hangover = self._hang_frames  # this utterance's (see hold())
        self._ending: int | None = None  # this pause's, once it sounds finished (end_now())

    @property
    def last_voiced(self) -> int:
        """The input sample just after the last voiced frame of the utterance in progress."""
        return self._last_voiced

    def hold(self, ms: float) -> None:
        """Wait at least `ms` of silence before ending this utterance (it sounds unfinished)."""
        self._hangover = max(self._hangover, round(ms / FRAME_MS))

    def end_now(self) -> Endpoint | None:
        """End the utterance in progress here if it is `finished_hangover_ms` into a pause (it
        sounds finished), or else once the pause reaches that."""
        if not self.speaking or self._gap == 0:
            return None
        if self._gap < self._finished_frames:
            self._ending = self._finished_frames
            return None
        ended = self._endpoint(forced=False)
        self._reset_utterance()
        return ended

    def so_far(self) -> Audio:
        """The utterance in progress up to its last voiced frame (what an Endpoint would carry
        now)."""
        return self._endpoint(forced=False).audio

    def _endpoint(self, *, forced: bool) -> Endpoint:
        kept = self._frames[: min(len(self._frames), self._kept + 1)]
        audio = Audio(np.concatenate(kept).astype(np.float32), STT_RATE)
        return Endpoint(audio, self._last_voiced, forced)

    def voice_probability(self, frame: Samples, reference_rms: float) -> float:
        """The VAD's speech probability for this frame, or 0 when it is too quiet or no
        louder than the echo of what the OS is playing."""
        level = rms(frame)
        prob = self.vad.speech_probability(frame)
        if reference_rms > 1e-4:
            expected = self.echo_gain * reference_rms
            if level < self.settings.echo_margin * expected:  # what we expect to leak back
                ratio = min(4.0, max(0.01, level / reference_rms))
                self.echo_gain = 0.9 * self.echo_gain + 0.1 * ratio
                return 0.0
        return prob if level >= self.settings.min_rms else 0.0

    def push(
        self, frame: Samples, reference_rms: float = 0.0, *, busy: bool = False
    ) -> list[Onset | Pause | Endpoint]:
        """One frame in. `busy`: the OS is replying, so only `min_barge_in_ms` of speech
        (not `min_speech_ms`) starts an utterance."""
        prob = self.voice_probability(frame, reference_rms)
        voiced = prob >= self.settings.keep_threshold
        self._strong = self._strong or prob >= self.settings.threshold
        start_of_frame = self.position
        self.position += len(frame)
        events: list[Onset | Pause | Endpoint] = []
        if not self._frames:
            if not voiced:
                self._preroll.append(frame)
                return events
            self._start = start_of_frame
            self._frames = [*self._preroll, frame]
            self._preroll.clear()
        else:
            self._frames.append(frame)
        if voiced:
            self._voiced += 1
            self._ending = None  # the person goes on: that pause did not end it
            self._gap = 0
            self._last_voiced = self.position
            self._kept = len(self._frames)
        else:
            self._gap += 1
        if not self.speaking:
            if self._gap > 2:  # a short sound, then quiet: it was not speech
                self._preroll.extend(self._frames)  # (the deque keeps only the newest)
                self._reset_utterance()
            elif self._strong and self._voiced >= (
                self._barge_frames if busy else self._min_frames
            ):
                self.speaking = True
                events.append(Onset(self._start, self.position))
            return events
        forced = len(self._frames) >= self._max_frames
        if self._gap >= (self._hangover if self._ending is None else self._ending) or forced:
            events.append(self._endpoint(forced=forced))
            self._reset_utterance()
        elif self._gap == self._pause_frames:
            events.append(Pause(self._endpoint(forced=False).audio, self._last_voiced))
        return events

    def finish(self) -> Endpoint | None:
        """The input ended: close the utterance in progress, if speech had been confirmed."""
        ended = None
        if self.speaking and self._kept:
            kept = self._frames[: self._kept]
            audio = Audio(np.concatenate(kept).astype(np.float32), STT_RATE)
            ended = Endpoint(audio, self._last_voiced, forced=True)
        self._reset_utterance()
        return ended

    def reset(self) -> None:
        """Drop any utterance in progress (e.g. the input ended)."""
        self._reset_utterance()
        self._preroll.clear()
        self.vad.reset()


__all__ = ["Endpoint", "ListenSettings", "Listener", "Onset", "Pause", "rms"]
