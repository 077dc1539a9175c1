"""The app factory: `create_app(config, backend=None, settings=None)` → an ASGI app.

Layers, outside in: the request-size limit, strict security headers, then FastAPI with the
routes (accounts, conversation, memory, web files) and the conversation WebSocket. Errors are
translated here, in one place: a UserError becomes its one sentence with a 4xx/5xx status
(NotFound 404, rate limits and "busy" 429 with Retry-After, an unavailable backend 503);
anything else is a bug and propagates. The interactive docs pages are off (they load scripts
from a CDN); the OpenAPI schema is at /api/openapi.json.

Storage calls of the conversation run off the event loop (os1.storage.offload) on the loop's
default executor, which the lifespan sizes to `settings.store_threads`: a commit waits for the
disk, and the commits of different users should overlap rather than queue behind one another.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp

from os1.backends.base import Backend
from os1.config import Config
from os1.errors import BackendUnavailable, NotFound, StorageError, UserError
from os1.server import websocket
from os1.server.routes import accounts, conversation, web
from os1.server.security import BodyLimit, SecurityHeaders
from os1.server.settings import ServerSettings
from os1.server.state import Server


def _status(e: UserError) -> int:
    if isinstance(e, NotFound):
        return 404
    if getattr(e, "retry_after", None) is not None:
        return 429
    if isinstance(e, BackendUnavailable | StorageError):
        return 503
    return 400


async def _user_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, UserError)
    headers = {}
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(retry_after, int | float):
        headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return JSONResponse({"detail": exc.sentence}, status_code=_status(exc), headers=headers)


def build_api(server: Server) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        server.auth.purge_expired()
        store_pool = ThreadPoolExecutor(server.settings.store_threads, "os1-store")
        asyncio.get_running_loop().set_default_executor(store_pool)
        try:
            yield
        finally:
            store_pool.shutdown(wait=True)
            server.close()

    api = FastAPI(
        title="os1",
        version="0.1.0",
        description="A private AI companion. Every route acts for the signed-in user only.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    api.state.os1 = server
    api.add_exception_handler(UserError, _user_error)
    for module in (accounts, conversation, websocket, web):
        api.include_router(module.router)
    from os1.server.features import has_memory, has_voice

    if has_memory():
        from os1.server.routes import memory

        api.include_router(memory.router)
    if has_voice():
        from os1.server import voice_socket

        api.include_router(voice_socket.router)
    return api


def create_app(
    config: Config, *, backend: Backend | None = None, settings: ServerSettings | None = None
) -> ASGIApp:
    """The os1 web app and API for `config` (the backend defaults to the one config names)."""
    settings = settings or ServerSettings()
    api = build_api(Server(config, settings, backend))
    return BodyLimit(SecurityHeaders(api), settings.max_body_bytes)


def api_of(app: ASGIApp) -> FastAPI:
    """The FastAPI app inside the middleware layers (for tests and route enumeration)."""
    inner: object = app
    while not isinstance(inner, FastAPI):
        inner = getattr(inner, "app")  # noqa: B009
    return inner


__all__ = ["api_of", "build_api", "create_app"]
