"""A deterministic stand-in for the embedding model, for fast tests of the memory pipeline.

`HashEmbedder` hashes word stems into a fixed-size vector: texts sharing words are close, which
is enough to test fusion, isolation and forgetting without loading ONNX. It records every text
it embedded, so a test can check what was (and was not) sent to the embedder.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from os1.memory.embedder import Vectors

_WORD = re.compile(r"[a-z0-9]+")


class HashEmbedder:
    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.seen: list[str] = []

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.seen.extend(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                h = int.from_bytes(hashlib.blake2b(word[:5].encode(), digest_size=4).digest())
                out[row, h % self.dim] += 1.0
            norm = float(np.linalg.norm(out[row]))
            if norm:
                out[row] /= norm
        return out


__all__ = ["HashEmbedder"]
