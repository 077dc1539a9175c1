"""Silero VAD v6 (the ONNX file faster-whisper ships), run frame by frame with onnxruntime.

Streaming use: each call takes one 512-sample frame at 16 kHz and carries the LSTM state and
the 64-sample context to the next call, exactly as the batch code in faster-whisper does across
rows. About 0.1–0.3 ms a frame on one thread.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Any

import numpy as np

from os1.errors import ModelFileError
from os1.voice.audio import Samples
from os1.voice.engines import FRAME

CONTEXT = 64


def bundled_model() -> Path:
    try:
        path = Path(str(importlib.resources.files("faster_whisper") / "assets"))
    except ModuleNotFoundError:
        raise ModelFileError("faster-whisper is not installed; run `make run`.") from None
    return path / "silero_vad_v6.onnx"


class SileroVad:
    def __init__(self, model: Path | None = None) -> None:
        import onnxruntime

        path = model or bundled_model()
        if not path.is_file():
            raise ModelFileError(f"The Silero VAD model is missing at {path}.")
        opts = onnxruntime.SessionOptions()
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = 1
        opts.log_severity_level = 4
        self._session: Any = onnxruntime.InferenceSession(
            str(path), providers=["CPUExecutionProvider"], sess_options=opts
        )
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)

    def speech_probability(self, frame: Samples) -> float:
        if len(frame) != FRAME:
            raise ValueError(f"SileroVad takes frames of {FRAME} samples, got {len(frame)}")
        x = np.concatenate([self._context, frame]).astype(np.float32)[None, :]
        out, self._h, self._c = self._session.run(None, {"input": x, "h": self._h, "c": self._c})
        self._context = frame[-CONTEXT:].astype(np.float32)
        return float(out.reshape(-1)[0])


__all__ = ["SileroVad", "bundled_model"]
