"""The server's own settings: sign-up policy, lifetimes, limits. Frozen; read once at the edge.

Limits are per user (and per client address before sign-in). The defaults suit a household or
a small team on one machine; a load benchmark or a large deployment passes its own.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ServerSettings:
    open_signup: bool = False  # anyone who reaches the page may create an account
    session_days: float = 14.0  # a web session (cookie) lives this long
    token_days: float = 90.0  # an API bearer token lives this long unless asked otherwise
    max_body_bytes: int = 64 * 1024  # largest HTTP request body
    max_frame_bytes: int = 64 * 1024  # largest WebSocket message (text or binary)
    requests_per_minute: float = 240.0  # HTTP requests per user (sustained rate)
    request_burst: int = 60  # … and how many may come at once
    messages_per_minute: float = 30.0  # conversation messages per user
    message_burst: int = 10
    sign_in_per_minute: float = 10.0  # password attempts per client address
    sign_in_burst: int = 10
    send_timeout_s: float = 10.0  # a client that cannot take a frame for this long is dropped
    store_threads: int = 16  # threads per worker for storage calls (commits wait for the disk)
    argon2_time_cost: int = 3  # Argon2id cost (RFC 9106 low-memory profile by default)
    argon2_memory_kib: int = 64 * 1024
    argon2_parallelism: int = 4
    secure_cookies: bool | None = None  # None: Secure exactly when the request came over https


__all__ = ["ServerSettings"]
