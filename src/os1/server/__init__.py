"""The os1 server: many people, each with a private OS, by text and voice in the browser.

    create_app(config, *, backend=None, settings=None) -> ASGI app

Install with the `server` extra; `os1 serve` runs it under uvicorn. The WebSocket protocol is
documented in os1.server.websocket; the HTTP API by its OpenAPI schema (/api/openapi.json).
"""

from __future__ import annotations

try:
    import argon2  # noqa: F401
    import fastapi  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the install
    raise ImportError(
        f"The os1 server needs its extra: pip install 'os1[server]' (missing: {e.name})."
    ) from None

from os1.server.app import create_app
from os1.server.settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]
