"""The dense-vector index: one user's embeddings as an in-memory numpy matrix, row = slot.

This Python's sqlite3 cannot load extensions (no sqlite-vec), so vectors live durably as float16
BLOBs in `memories.embedding` and are searched here, in a float32 matrix whose rows are the
slots of the user's `MemoryIndex` (which loads and appends them). Up to `COARSE_FROM` rows a
query is one exact matrix-vector product. Beyond it, reading the whole matrix costs more than
the latency budget (100,000 × 384 float32 = 154 MB, ~15 ms on a busy core), so the index keeps
a second, narrower matrix: every row projected onto the `COARSE_DIM` principal directions of a
sample of the user's own vectors (4× less to read). Scores from it are approximate; the caller
rescores its best candidates exactly with `exact`. The mean row is kept too, so the mean score
(used to normalise) is one dot product.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from os1.memory.embedder import Vectors

Scores = npt.NDArray[np.float32]
COARSE_FROM = 16_384
COARSE_DIM = 64
_SAMPLE = 4096


def to_blob(vector: npt.NDArray[np.float32]) -> bytes:
    return vector.astype("<f2").tobytes()


def from_blob(blob: bytes) -> npt.NDArray[np.float32]:
    return np.frombuffer(blob, dtype="<f2").astype(np.float32)


class VectorIndex:
    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._matrix: Vectors = np.zeros((1024, dim), dtype=np.float32)
        self._size = 0
        self._sum = np.zeros(dim, dtype=np.float64)
        self._basis: Vectors | None = None  # dim × COARSE_DIM, once the index is large
        self._coarse: Vectors = np.zeros((0, COARSE_DIM), dtype=np.float32)
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return self._size

    @property
    def approximate(self) -> bool:
        """True when `scores` come from the narrow projection (rescore with `exact`)."""
        return self._basis is not None

    def extend(self, vectors: Vectors) -> None:
        """Append rows (float16-rounded, so memory equals what a reload gives)."""
        if len(vectors) == 0:
            return
        rows = vectors.astype("<f2").astype(np.float32)
        with self._lock:
            start, end = self._size, self._size + len(rows)
            if end > self._matrix.shape[0]:
                capacity = max(end, 2 * self._matrix.shape[0])
                self._matrix = _grown(self._matrix, start, capacity)
                if self._basis is not None:
                    self._coarse = _grown(self._coarse, start, capacity)
            self._matrix[start:end] = rows
            self._sum += rows.sum(axis=0, dtype=np.float64)
            self._size = end
            if self._basis is not None:
                self._coarse[start:end] = rows @ self._basis
            elif end >= COARSE_FROM and self.dim > COARSE_DIM:
                self._fit()

    def clear(self, slots: Sequence[int]) -> None:
        """Zero the rows of removed memories (a zero row scores 0 against every query)."""
        if not slots:
            return
        with self._lock:
            index = np.asarray(slots, dtype=np.int64)
            self._sum -= self._matrix[index].sum(axis=0, dtype=np.float64)
            self._matrix[index] = 0.0
            if self._basis is not None:
                self._coarse[index] = 0.0

    def scores(self, query: npt.NDArray[np.float32]) -> Scores:
        """Cosine score of every slot (approximate when `approximate`)."""
        with self._lock:
            q = query.astype(np.float32)
            if self._basis is not None:
                return _matvec(self._coarse[: self._size], q @ self._basis)
            return _matvec(self._matrix[: self._size], q)

    def exact(self, query: npt.NDArray[np.float32], slots: npt.NDArray[np.int64]) -> Scores:
        with self._lock:
            return self._matrix[slots] @ query.astype(np.float32)

    def mean_score(self, query: npt.NDArray[np.float32]) -> float:
        if self._size == 0:
            return 0.0
        return float(self._sum @ query.astype(np.float64)) / self._size

    def _fit(self) -> None:
        """Principal directions of a sample of rows; project every row onto them."""
        rng = np.random.default_rng(0)
        pick = rng.choice(self._size, size=min(_SAMPLE, self._size), replace=False)
        _, _, vt = np.linalg.svd(self._matrix[pick], full_matrices=False)
        self._basis = np.ascontiguousarray(vt[:COARSE_DIM].T, dtype=np.float32)
        self._coarse = np.zeros((self._matrix.shape[0], COARSE_DIM), dtype=np.float32)
        self._coarse[: self._size] = self._matrix[: self._size] @ self._basis


def _matvec(matrix: Vectors, vector: npt.NDArray[np.float32]) -> Scores:
    """matrix @ vector on this thread. A multi-threaded BLAS matvec spin-waits for a second
    core; on a busy 2-core machine that made one product 5× slower than a single thread."""
    product: Scores = np.einsum("ij,j->i", matrix, vector)
    return product


def _grown(matrix: Vectors, used: int, capacity: int) -> Vectors:
    grown = np.zeros((capacity, matrix.shape[1]), dtype=np.float32)
    grown[:used] = matrix[:used]
    return grown


__all__ = ["COARSE_DIM", "COARSE_FROM", "Scores", "VectorIndex", "from_blob", "to_blob"]
