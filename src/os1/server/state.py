"""The server's shared parts, made once per app: the runtime, sign-in data, limits.

`Server` holds no per-user state: every request names its user through authentication and
opens that user's store through `accounts.open_store(user)`; the backend is reached only via
the runtime's turn contexts (which is where a fair, bounded queue can wrap it). Contexts are
opened off the event loop (a new session is a commit), one at a time per user, so two sockets
of one user opening at once cannot both run crash recovery over each other's live reply.
"""

from __future__ import annotations

import asyncio
import threading

from os1.backends.base import Backend
from os1.config import Config
from os1.context import TurnContext
from os1.runtime import Runtime
from os1.server.auth_store import AuthStore
from os1.server.passwords import Passwords
from os1.server.ratelimit import RateLimiter
from os1.server.seen import SeenMessages
from os1.server.settings import ServerSettings
from os1.storage.accounts import User
from os1.storage.offload import off_loop


class Server:
    def __init__(
        self, config: Config, settings: ServerSettings, backend: Backend | None = None
    ) -> None:
        self.config = config
        self.settings = settings
        self.runtime = Runtime(config, backend=backend)
        self.accounts = self.runtime.accounts
        self.auth = AuthStore(self.accounts.db)
        self.passwords = Passwords(
            settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism
        )
        self.request_limits = RateLimiter(settings.requests_per_minute, settings.request_burst)
        self.message_limits = RateLimiter(settings.messages_per_minute, settings.message_burst)
        self.sign_in_limits = RateLimiter(settings.sign_in_per_minute, settings.sign_in_burst)
        self.seen_messages = SeenMessages()
        self._opening: dict[str, asyncio.Lock] = {}
        self._building = threading.Lock()

    async def open_context(self, user: User, channel: str) -> TurnContext:
        """A turn context for `user` (their store, a new session), made on a store thread."""
        async with self._opening.setdefault(user.id, asyncio.Lock()):  # one small lock per user
            return await off_loop(self._context, user, channel)

    def _context(self, user: User, channel: str) -> TurnContext:
        with self._building:  # the first context builds the shared backend: once, not per thread
            self.runtime.backend()
        return self.runtime.context(user, channel)

    def close(self) -> None:
        self.runtime.close()


__all__ = ["Server"]
