"""Authentication as a dependency: every user-facing route gets its user from here.

A request is signed in by exactly one of: `Authorization: Bearer <token>` (API clients), or
the `os1_session` cookie (the web app). Cookie requests that change anything must also carry
the session's CSRF token in `X-CSRF-Token` (double submit, compared in constant time), and
cookies are SameSite=Strict; WebSockets signed in by cookie must come from this origin.
A present but wrong bearer token never falls back to the cookie.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request
from starlette.requests import HTTPConnection

from os1.errors import NotFound
from os1.server.state import Server
from os1.storage.accounts import User
from os1.storage.offload import off_loop
from os1.storage.user_store import UserStore

SESSION_COOKIE = "os1_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Principal:
    user: User
    via: Literal["cookie", "bearer"]
    csrf_token: str | None = None
    session_secret: str | None = None


def server_of(conn: HTTPConnection) -> Server:
    server: Server = conn.app.state.os1
    return server


def same_origin(conn: HTTPConnection) -> bool:
    """True unless a browser says the request comes from another site."""
    origin = conn.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc.lower() == conn.headers.get("host", "").lower()


def client_key(conn: HTTPConnection) -> str:
    return f"addr:{conn.client.host if conn.client else 'unknown'}"


def unauthorized(detail: str = "Please sign in.") -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def authenticate(conn: HTTPConnection) -> Principal | None:
    """Who this request is from, or None when it carries no credentials at all."""
    server = server_of(conn)
    header = conn.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        user_id = server.auth.user_for_token(token.strip()) if scheme.lower() == "bearer" else None
        if user_id is None:
            raise unauthorized("That API token is not valid or has expired.")
        return Principal(_user(server, user_id), "bearer")
    secret = conn.cookies.get(SESSION_COOKIE)
    if secret is None:
        return None
    session = server.auth.web_session(secret)
    if session is None:
        raise unauthorized("Your session has ended; please sign in again.")
    return Principal(_user(server, session.user_id), "cookie", session.csrf_token, secret)


def _user(server: Server, user_id: str) -> User:
    try:
        return server.accounts.get_user_by_id(user_id)
    except NotFound:
        raise unauthorized() from None


async def current_principal(request: Request) -> Principal:
    principal = await off_loop(authenticate, request)  # registry reads stay off the event loop
    if principal is None:
        raise unauthorized()
    if principal.via == "cookie" and request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not (principal.csrf_token and secrets.compare_digest(sent, principal.csrf_token)):
            raise HTTPException(403, "This request is missing its CSRF token; reload the page.")
    server_of(request).request_limits.check(f"user:{principal.user.id}")
    return principal


def user_store(
    principal: Annotated[Principal, Depends(current_principal)], request: Request
) -> UserStore:
    """The signed-in user's store, and nobody else's."""
    return server_of(request).accounts.open_store(principal.user)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
CurrentStore = Annotated[UserStore, Depends(user_store)]

__all__ = [
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "CurrentPrincipal",
    "CurrentStore",
    "Principal",
    "authenticate",
    "client_key",
    "current_principal",
    "same_origin",
    "server_of",
    "unauthorized",
    "user_store",
]
