"""The three voice seams, one method each (plus a reset for the stateful one).

    SpeechDetector   a 32 ms frame of 16 kHz audio -> probability that it is speech
    SpeechToText     an utterance (16 kHz) -> its words ('' when nothing was said)
    TextToSpeech     a clause -> audio at the engine's own rate

Engines are synchronous and CPU-bound; the pipeline runs STT and TTS in worker threads.
Built-ins: Silero (os1.voice.silero), Whisper (os1.voice.whisper), Piper and espeak-ng
(os1.voice.piper, os1.voice.espeak). Fakes for tests live in os1.voice.testing.
"""

from __future__ import annotations

from typing import Protocol

from os1.voice.audio import Audio, Samples

FRAME = 512  # samples per VAD frame at 16 kHz (32 ms), Silero's native window


class SpeechDetector(Protocol):
    def speech_probability(self, frame: Samples) -> float:
        """Probability in [0, 1] that this FRAME-sample frame (16 kHz) holds speech."""
        ...

    def reset(self) -> None:
        """Forget the recurrent state (a new stream starts)."""
        ...


class SpeechToText(Protocol):
    def transcribe(self, audio: Audio) -> str:
        """The words in a 16 kHz utterance, or '' when nothing intelligible was said."""
        ...


class TextToSpeech(Protocol):
    def synthesize(self, text: str) -> Audio:
        """Speak one clause or sentence; the audio's rate is the engine's own."""
        ...


__all__ = ["FRAME", "SpeechDetector", "SpeechToText", "TextToSpeech"]
