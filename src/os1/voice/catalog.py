"""From names to loaded engines: the voice chosen at the first meeting, the speech models.

`VoiceCatalog.tts(voice_id)` maps a catalog id (os1.voices: joe → Piper en_US-joe-medium,
iris → espeak-ng en-us+f3, rowan → espeak-ng en-us+m3) or a path to a user's own Piper voice
(`voice.onnx` with `voice.onnx.json` beside it) to a TTS engine, loading each once.
`load_engines()` builds the whole set the pipeline needs; it is the voice layer's
composition root. `VoiceCatalog(noise=False)` renders Piper voices without their random
variation (the same audio for the same text: test fixtures).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from os1.errors import ModelFileError
from os1.voice.engines import SpeechDetector, SpeechToText, TextToSpeech
from os1.voices import DEFAULT_VOICE, voice_by_id

STT_MODELS = ("tiny", "base")


def _piper_from_path(model: Path, noise: bool) -> TextToSpeech:
    from os1.voice.piper import PiperTts

    config = model.with_name(model.name + ".json")
    if not model.is_file() or not config.is_file():
        raise ModelFileError(
            f"A Piper voice needs {model.name} and {config.name} side by side; {model} has not."
        )
    return PiperTts(model, config, noise=noise)


def _builtin(voice_id: str, noise: bool) -> TextToSpeech:
    option = voice_by_id(voice_id)
    if option is None:
        raise ModelFileError(f"There is no voice called {voice_id!r}.")
    if option.engine == "piper":
        from os1.voice.piper import PiperTts, joe_voice

        return PiperTts(*joe_voice(), noise=noise)
    from os1.voice.espeak import EspeakTts

    return EspeakTts(option.engine_voice)


class VoiceCatalog:
    def __init__(self, *, noise: bool = True) -> None:
        self.noise = noise
        self._loaded: dict[str, TextToSpeech] = {}
        self._lock = threading.Lock()

    def tts(self, voice_id: str | None) -> TextToSpeech:
        key = voice_id or DEFAULT_VOICE
        with self._lock:
            if key not in self._loaded:
                is_path = key.endswith(".onnx") or "/" in key
                self._loaded[key] = (
                    _piper_from_path(Path(key), self.noise)
                    if is_path
                    else _builtin(key, self.noise)
                )
            return self._loaded[key]


@dataclass
class VoiceEngines:
    """Everything a voice session uses. `vad` makes a fresh detector per session (it has
    state); `stt` and the voices are shared (they are stateless)."""

    vad: Callable[[], SpeechDetector]
    stt: SpeechToText
    voices: VoiceCatalog = field(default_factory=VoiceCatalog)


def load_stt(model: str = "tiny", models_dir: Path | None = None) -> SpeechToText:
    from os1.voice.whisper import WhisperStt, base_model_dir, tiny_model_dir

    if model == "tiny":
        return WhisperStt(tiny_model_dir())
    if model == "base":
        if models_dir is None:
            raise ModelFileError("Whisper base needs a model cache directory to assemble into.")
        return WhisperStt(base_model_dir(models_dir))
    raise ModelFileError(f"There is no speech model {model!r}; choose {' or '.join(STT_MODELS)}.")


def load_engines(
    stt_model: str = "tiny", models_dir: Path | None = None, *, voices: VoiceCatalog | None = None
) -> VoiceEngines:
    from os1.voice.silero import SileroVad

    stt = load_stt(stt_model, models_dir)
    return VoiceEngines(vad=SileroVad, stt=stt, voices=voices or VoiceCatalog())


__all__ = ["STT_MODELS", "VoiceCatalog", "VoiceEngines", "load_engines", "load_stt"]
