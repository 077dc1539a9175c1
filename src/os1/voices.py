"""The voices offered at the first meeting. The voice layer maps each id to an engine."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class VoiceOption:
    id: str
    name: str
    description: str
    engine: str  # "piper" or "espeak"
    engine_voice: str


VOICES: tuple[VoiceOption, ...] = (
    VoiceOption(
        "joe", "Joe", "warm and unhurried, a natural US voice", "piper", "en_US-joe-medium"
    ),
    VoiceOption("iris", "Iris", "light and clear, synthetic and quick", "espeak", "en-us+f3"),
    VoiceOption("rowan", "Rowan", "low and steady, synthetic and quick", "espeak", "en-us+m3"),
)
DEFAULT_VOICE = VOICES[0].id


def voice_by_id(voice_id: str) -> VoiceOption | None:
    return next((v for v in VOICES if v.id == voice_id), None)


__all__ = ["DEFAULT_VOICE", "VOICES", "VoiceOption", "voice_by_id"]
