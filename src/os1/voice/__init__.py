"""Voice: talk to os1 aloud, hear it answer, interrupt it.

    engines.py    the seams: SpeechDetector (VAD), SpeechToText, TextToSpeech
    silero.py whisper.py piper.py espeak.py    the built-in engines (offline, packaged)
    catalog.py    voice ids and model names -> loaded engines (VoiceEngines)
    audio.py      Audio values, PCM16, WAV reading (forgiving) and writing (atomic)
    listener.py   VAD frames -> utterances: hysteresis, endpoint, short-noise filter, echo gate
    clauses.py    a streaming reply -> speakable clauses
    prosody.py    energy, pitch, speaking rate of each utterance, stored with the turn
    frames.py     what the pipeline emits (system frames survive barge-in, data frames do not)
    session.py    VoiceSession: the live pipeline with barge-in; the API the server wraps
    speculation.py  a reply generated for a guessed transcript, taken over by its turn
    files.py      one recorded question -> one spoken answer (`os1 talk --in/--out`)
    testing.py    fakes for the seams

Heavy engines load on first use, so importing os1.voice is cheap.
"""

from __future__ import annotations

from os1.voice.audio import Audio, read_wav, write_wav
from os1.voice.catalog import VoiceCatalog, VoiceEngines, load_engines
from os1.voice.engines import SpeechDetector, SpeechToText, TextToSpeech
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
from os1.voice.listener import ListenSettings
from os1.voice.prosody import Prosody
from os1.voice.session import VoiceSession

__all__ = [
    "Audio",
    "AudioChunk",
    "BargeIn",
    "Frame",
    "ListenSettings",
    "Notice",
    "Prosody",
    "ReplyEnded",
    "ReplyText",
    "SpeechDetector",
    "SpeechEnded",
    "SpeechStarted",
    "SpeechToText",
    "TextToSpeech",
    "Transcript",
    "VoiceCatalog",
    "VoiceEngines",
    "VoiceSession",
    "load_engines",
    "read_wav",
    "write_wav",
]
