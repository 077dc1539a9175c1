"""The dense-vector index: one user's embeddings as an in-memory numpy matrix.

This Python's sqlite3 cannot load extensions (no sqlite-vec), so vectors live durably as float16
BLOBs in `memories.embedding` and are searched exactly (brute force) in a float32 matrix loaded
lazily on the first search and kept in sync by `add`/`remove` (the memory store calls both).
At 384 dimensions 100,000 memories take 150 MB and one search is a single matrix-vector product
(a few ms; see bench/memory_scale.py). The index holds only one user's rows: it is built from
that user's database file and lives in that user's memory object.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

import numpy as np
import numpy.typing as npt

from os1.memory.embedder import Vectors


def to_blob(vector: npt.NDArray[np.float32]) -> bytes:
    return vector.astype("<f2").tobytes()


def from_blob(blob: bytes) -> npt.NDArray[np.float32]:
    return np.frombuffer(blob, dtype="<f2").astype(np.float32)


class VectorIndex:
    def __init__(self, dim: int, load: Callable[[], Iterable[tuple[int, bytes]]]) -> None:
        self.dim = dim
        self._load = load
        self._matrix: Vectors = np.zeros((0, dim), dtype=np.float32)
        self._ids: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._size = 0
        self._loaded = False
        self._lock = threading.RLock()  # observe may run on the extraction thread

    def _ensure(self) -> None:
        if self._loaded:
            return
        ids: list[int] = []
        rows: list[npt.NDArray[np.float32]] = []
        for memory_id, blob in self._load():
            vector = from_blob(blob)
            if vector.shape[0] == self.dim:
                ids.append(memory_id)
                rows.append(vector)
        capacity = max(1024, len(rows) * 2)
        self._matrix = np.zeros((capacity, self.dim), dtype=np.float32)
        self._ids = np.full(capacity, -1, dtype=np.int64)
        if rows:
            self._matrix[: len(rows)] = np.stack(rows)
            self._ids[: len(rows)] = ids
        self._size = len(rows)
        self._loaded = True

    def __len__(self) -> int:
        self._ensure()
        return int((self._ids[: self._size] >= 0).sum())

    def add(self, memory_id: int, vector: npt.NDArray[np.float32]) -> None:
        with self._lock:
            if not self._loaded:
                return  # the next search loads it from the database, where it already is
            if self._size == self._matrix.shape[0]:
                grown = np.zeros((self._size * 2, self.dim), dtype=np.float32)
                grown[: self._size] = self._matrix
                ids = np.full(self._size * 2, -1, dtype=np.int64)
                ids[: self._size] = self._ids
                self._matrix, self._ids = grown, ids
            # Round-trip through float16 so the in-memory row equals what a reload would give.
            self._matrix[self._size] = from_blob(to_blob(vector))
            self._ids[self._size] = memory_id
            self._size += 1

    def remove(self, memory_ids: Iterable[int]) -> None:
        with self._lock:
            if not self._loaded:
                return
            gone = np.isin(self._ids[: self._size], np.fromiter(memory_ids, dtype=np.int64))
            self._matrix[: self._size][gone] = 0.0
            self._ids[: self._size][gone] = -1

    def search(self, query: npt.NDArray[np.float32], k: int) -> list[tuple[int, float]]:
        """The k nearest memory ids by cosine similarity, best first."""
        with self._lock:
            self._ensure()
            if self._size == 0 or k <= 0:
                return []
            scores = self._matrix[: self._size] @ query.astype(np.float32)
            scores[self._ids[: self._size] < 0] = -np.inf
            k = min(k, self._size)
            top = np.argpartition(-scores, k - 1)[:k]
            top = top[np.argsort(-scores[top])]
            return [(int(self._ids[i]), float(scores[i])) for i in top if self._ids[i] >= 0]


__all__ = ["VectorIndex", "from_blob", "to_blob"]
