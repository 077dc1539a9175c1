"""Long-term memory: os1 remembers your life, recalls it by meaning and by time, and shows you
what it knows.

    records     what a memory is (turn, fact, summary, reflection) and its lineage
    store       rows + FTS5 + vectors in the user's own SQLite file; supersession; forgetting
    embedder    all-MiniLM-L6-v2 int8 ONNX (verified by sha256), behind a one-method seam
    lexical     stemmed tokens and BM25 weights
    index       the per-user in-memory mirror retrieval reads: BM25 postings, sessions, turns
    sessions    each session as one BM25 document (a question's words spread over a conversation)
    vectors     the per-user in-memory matrix (no SQLite extensions on this Python)
    temporal    "last Tuesday", "in May", "before the wedding" → date spans
    extraction  deterministic extractors; model_extraction: JSON-grammar extraction
    summaries   session summaries and reflections; retrieval: hybrid recall, score fusion
    notes       what enters the prompt; memory: the Memory the conversation calls
    control     the user's control (list, search, show, forget, export, erase)

`open_memory` is what the runtime attaches to every TurnContext.
"""

from __future__ import annotations

from os1.backends.base import Backend
from os1.config import Config
from os1.memory.control import MemoryControl, MemoryView
from os1.memory.embedder import Embedder, LazyMiniLM, MiniLMEmbedder
from os1.memory.memory import LongTermMemory, ModelExtraction
from os1.memory.records import Hit, MemoryRecord, NewMemory
from os1.storage.user_store import UserStore

WARM_FROM = 5_000  # memories; below this the first search loads the index in < 0.2 s


def open_memory(store: UserStore, backend: Backend, config: Config) -> LongTermMemory:
    """One user's long-term memory, extracting with `backend` in the background."""
    del config  # nothing configurable yet; the signature is the runtime's MemoryFactory
    memory = LongTermMemory(store, LazyMiniLM(), backend, model_extraction="deferred")
    memory.warm_in_background(min_memories=WARM_FROM)
    return memory


__all__ = [
    "Embedder",
    "Hit",
    "LongTermMemory",
    "MemoryControl",
    "MemoryRecord",
    "MemoryView",
    "MiniLMEmbedder",
    "ModelExtraction",
    "NewMemory",
    "open_memory",
]
