"""The composition root: the only place that wires concrete parts together.

`Runtime(config)` opens the accounts registry; `backend()` builds (once) the backend the config
names — an OpenAI-compatible URL, an embedded profile, or a GGUF path; `context(user)` opens
that user's store, recovers replies a crash left streaming, starts a session and hands back a
`TurnContext`. Optional parts (long-term memory) are attached here when installed.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from pathlib import Path

from os1.backends.base import Backend
from os1.backends.fair import FairBackend
from os1.config import Config
from os1.context import Memory, TurnContext
from os1.errors import ModelFileError
from os1.profiles import PROFILES, assemble, get_profile
from os1.storage.accounts import Accounts, User
from os1.storage.user_store import UserStore

MemoryFactory = Callable[[UserStore, Backend, Config], Memory]
Progress = Callable[[str], None]


def resolve_model_path(config: Config, progress: Callable[[int, int], None] | None = None) -> Path:
    """The GGUF file the config names: a profile (assembled and verified) or a path."""
    if config.model in PROFILES:
        return assemble(get_profile(config.model), config.models_dir, progress)
    path = Path(config.model).expanduser()
    if path.suffix.lower() != ".gguf" and not path.exists():
        raise ModelFileError(
            f"{config.model!r} is neither a model profile ({', '.join(PROFILES)}) nor a GGUF file."
        )
    return path


def build_backend(config: Config, say: Progress | None = None) -> Backend:
    if config.backend_url:
        from os1.backends.openai_compat import OpenAICompatBackend

        return OpenAICompatBackend(
            config.backend_url,
            model=config.backend_model,
            api_key=config.api_key,
            context_window=config.n_ctx,
        )
    path = resolve_model_path(config)
    if say:
        say(f"Loading {config.model if config.model in PROFILES else path.name} …")
    name = f"embedded:{config.model}" if config.model in PROFILES else f"gguf:{path.name}"
    parallel = config.parallel or 1
    if parallel > 1:  # several generations share each decoding step (os1.backends.batched)
        from os1.backends.batched import BatchedLlamaBackend

        engine: Backend = BatchedLlamaBackend(
            path, slots=parallel, n_ctx=config.n_ctx, n_threads=config.n_threads, name=name
        )
    else:
        from os1.backends.llamacpp import LlamaCppBackend

        engine = LlamaCppBackend(path, n_ctx=config.n_ctx, n_threads=config.n_threads, name=name)
    # One in-process model serves everyone this process serves: queue fairly across users.
    return FairBackend(engine, slots=parallel)


def default_memory_factory() -> MemoryFactory | None:
    """Long-term memory, when its module is present (it plugs in the way a plugin would)."""
    try:
        from os1.memory import open_memory
    except ImportError:
        return None
    factory: MemoryFactory = open_memory
    return factory


class Runtime:
    def __init__(
        self,
        config: Config,
        *,
        backend: Backend | None = None,
        memory_factory: MemoryFactory | bool | None = True,
        say: Progress | None = None,
    ) -> None:
        self.config = config
        self.accounts = Accounts.open(config)  # SQLite files, or PostgreSQL (database_url)
        self._backend = backend
        self._say = say
        self._recovered: set[str] = set()
        self._memories: list[Memory] = []
        self._memory_factory = (
            default_memory_factory() if memory_factory is True else memory_factory or None
        )

    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = build_backend(self.config, self._say)
        return self._backend

    def default_user_name(self) -> str:
        if self.config.default_user:
            return self.config.default_user
        try:
            return getpass.getuser() or "me"
        except (KeyError, OSError):
            return "me"

    def user(self, name: str | None = None) -> User:
        return self.accounts.ensure_user(name or self.default_user_name())

    def context(self, user: User, channel: str = "text") -> TurnContext:
        store = self.accounts.open_store(user)
        if user.id not in self._recovered:
            # Once per user per process: replies a crash left `streaming` become interrupted.
            # (Not per context: a second connection must not cut off a live reply.)
            store.recover()
            self._recovered.add(user.id)
        shared = self.backend()
        backend = shared
        if isinstance(shared, FairBackend):  # the shared model learns whose turn it is
            backend = shared.for_user(user.id)
        # Memory's background extraction runs on its own thread and event loop, so it gets the
        # model itself (thread-safe: locked, or the batched engine's job queue), not the fair
        # queue (one event loop only).
        memory_backend = shared.inner if isinstance(shared, FairBackend) else shared
        memory = (
            self._memory_factory(store, memory_backend, self.config)
            if self._memory_factory
            else None
        )
        if memory is not None:
            self._memories.append(memory)
        return TurnContext(
            user_id=user.id,
            user_name=user.name,
            store=store,
            backend=backend,
            config=self.config,
            channel=channel,
            memory=memory,
        )

    def close(self) -> None:
        """Shut down in dependency order: memories (their background model work stops), then
        the backend (its worker threads leave llama.cpp), then the stores."""
        for memory in self._memories:
            close = getattr(memory, "close", None)
            if callable(close):
                close()
        self._memories.clear()
        if self._backend is not None:
            close = getattr(self._backend, "close", None)
            if callable(close):
                close()
        self.accounts.close()
