"""Fakes for the voice seams, for fast tests of the pipeline (and of code built on it).

`ScriptedStt` returns scripted transcripts in order and fails loudly when its script runs out
or is left over; `ToneTts` "speaks" a tone whose length follows the number of words, so a
test knows exactly how long each clause plays; `EnergyVad` calls any frame louder than a
threshold speech. Audio for them: `tone()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from os1.voice.audio import STT_RATE, Audio, Samples


def tone(seconds: float, *, level: float = 0.3, hz: float = 220.0, rate: int = STT_RATE) -> Audio:
    t = np.arange(round(seconds * rate), dtype=np.float32) / rate
    return Audio((level * np.sin(2 * np.pi * hz * t)).astype(np.float32), rate)


@dataclass
class ScriptedStt:
    script: list[str] = field(default_factory=list)
    heard: list[Audio] = field(default_factory=list)

    def transcribe(self, audio: Audio) -> str:
        self.heard.append(audio)
        if not self.script:
            raise AssertionError(f"ScriptedStt: unexpected utterance #{len(self.heard)}")
        return self.script.pop(0)

    def assert_done(self) -> None:
        if self.script:
            raise AssertionError(f"ScriptedStt: {len(self.script)} transcripts unused")


@dataclass
class ToneTts:
    seconds_per_word: float = 0.25
    rate: int = 22_050
    level: float = 0.3
    spoken: list[str] = field(default_factory=list)

    def synthesize(self, text: str) -> Audio:
        self.spoken.append(text)
        return tone(self.seconds_per_word * len(text.split()), level=self.level, rate=self.rate)


@dataclass
class EnergyVad:
    threshold: float = 0.02

    def speech_probability(self, frame: Samples) -> float:
        return 1.0 if float(np.sqrt(np.mean(np.square(frame)))) > self.threshold else 0.0

    def reset(self) -> None:
        pass


__all__ = ["EnergyVad", "ScriptedStt", "ToneTts", "tone"]
