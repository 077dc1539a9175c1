"""The server's shared parts, made once per app: the runtime, sign-in data, limits.

`Server` holds no per-user state: every request names its user through authentication and
opens that user's store through `accounts.open_store(user)`; the backend is reached only via
the runtime's turn contexts (which is where a fair, bounded queue can wrap it).
"""

from __future__ import annotations

from os1.backends.base import Backend
from os1.config import Config
from os1.runtime import Runtime
from os1.server.auth_store import AuthStore
from os1.server.passwords import Passwords
from os1.server.ratelimit import RateLimiter
from os1.server.seen import SeenMessages
from os1.server.settings import ServerSettings


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

    def close(self) -> None:
        self.runtime.close()


__all__ = ["Server"]
