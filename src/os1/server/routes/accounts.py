"""Signing up, in and out; API tokens; password change; erasing one's own account."""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, HTTPException, Request, Response

from os1.errors import NotFound
from os1.server.deps import (
    SESSION_COOKIE,
    CurrentPrincipal,
    client_key,
    same_origin,
    server_of,
)
from os1.server.passwords import check_password
from os1.server.schemas import (
    AUTHED,
    Credentials,
    Info,
    IssuedToken,
    Me,
    NewAccount,
    NewToken,
    PasswordChange,
    PasswordConfirm,
    TokenGrant,
    TokenOut,
    problems,
)
from os1.server.state import Server
from os1.storage.accounts import User

router = APIRouter(prefix="/api", tags=["accounts"])
SIGN_IN = problems(400, 401, 403, 413, 429)
SIGN_UP = problems(400, 403, 409, 413, 429)
WRONG = "That name and password don't match."


def _sign_in_guard(request: Request) -> Server:
    server = server_of(request)
    if not same_origin(request):
        raise HTTPException(403, "Sign-in must come from this site.")
    server.sign_in_limits.check(client_key(request))
    return server


async def _check_password(server: Server, name: str, password: str) -> User:
    try:
        user: User | None = server.accounts.get_user(name)
    except NotFound:
        user = None
    stored = server.auth.password_hash(user.id) if user else None
    ok = await asyncio.to_thread(server.passwords.verify, stored, password)
    if not ok or user is None:
        raise HTTPException(401, WRONG, headers={"WWW-Authenticate": "Bearer"})
    return user


def _start_session(server: Server, request: Request, response: Response, user: User) -> Me:
    secret, session = server.auth.create_web_session(user.id, server.settings.session_days)
    secure = server.settings.secure_cookies
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(server.settings.session_days * 86400),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https" if secure is None else secure,
    )
    return Me(id=user.id, name=user.name, via="cookie", csrf_token=session.csrf_token)


@router.get("/info", response_model=Info)
def info(request: Request) -> Info:
    """What this server offers, before sign-in."""
    from os1.server.features import has_memory, has_voice

    server = server_of(request)
    return Info(
        open_signup=server.settings.open_signup,
        max_input_chars=server.config.max_input_chars,
        memory=has_memory(),
        voice=has_voice(),
    )


@router.post("/signup", response_model=Me, status_code=201, responses=SIGN_UP)
async def signup(body: NewAccount, request: Request, response: Response) -> Me:
    """Create an account (only when open sign-up is on) and sign in with a cookie."""
    server = _sign_in_guard(request)
    if not server.settings.open_signup:
        raise HTTPException(
            403, "Sign-up is closed here; ask whoever runs this os1 for an account."
        )
    check_password(body.password)
    with contextlib.suppress(NotFound):
        server.accounts.get_user(body.name)
        raise HTTPException(409, "That name is taken; choose another.")
    password_hash = await asyncio.to_thread(server.passwords.hash, body.password)
    user = server.accounts.create_user(body.name)
    server.auth.set_password_hash(user.id, password_hash)
    return _start_session(server, request, response, user)


@router.post("/login", response_model=Me, responses=SIGN_IN)
async def login(body: Credentials, request: Request, response: Response) -> Me:
    """Sign in with a name and password; sets an HttpOnly, SameSite=Strict session cookie."""
    server = _sign_in_guard(request)
    user = await _check_password(server, body.name, body.password)
    return _start_session(server, request, response, user)


@router.post("/token", response_model=IssuedToken, status_code=201, responses=SIGN_IN)
async def issue_token(body: TokenGrant, request: Request) -> IssuedToken:
    """Trade a name and password for an API bearer token (shown once)."""
    server = _sign_in_guard(request)
    user = await _check_password(server, body.name, body.password)
    info, secret = server.auth.create_token(
        user.id, body.label, body.days or server.settings.token_days
    )
    return IssuedToken(token=secret, **_token_fields(info))


@router.post("/logout", status_code=204, responses=AUTHED)
def logout(principal: CurrentPrincipal, request: Request, response: Response) -> None:
    """End this web session (a bearer token stays valid until revoked)."""
    if principal.session_secret is not None:
        server_of(request).auth.end_web_session(principal.session_secret)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")


@router.get("/me", response_model=Me, responses=AUTHED)
def me(principal: CurrentPrincipal) -> Me:
    """Who is signed in (and, for the web app, the CSRF token to send back)."""
    return Me(
        id=principal.user.id,
        name=principal.user.name,
        via=principal.via,
        csrf_token=principal.csrf_token,
    )


def _token_fields(info: object) -> dict[str, str]:
    return {k: str(getattr(info, k)) for k in ("id", "label", "created_at", "expires_at")}


@router.get("/tokens", response_model=list[TokenOut], responses=AUTHED)
def tokens(principal: CurrentPrincipal, request: Request) -> list[TokenOut]:
    """Your API tokens (never their secrets)."""
    listed = server_of(request).auth.tokens(principal.user.id)
    return [TokenOut(**_token_fields(t)) for t in listed]


@router.post("/tokens", response_model=IssuedToken, status_code=201, responses=AUTHED)
def new_token(body: NewToken, principal: CurrentPrincipal, request: Request) -> IssuedToken:
    """Make an API token for yourself (shown once)."""
    server = server_of(request)
    info, secret = server.auth.create_token(
        principal.user.id, body.label, body.days or server.settings.token_days
    )
    return IssuedToken(token=secret, **_token_fields(info))


@router.delete("/tokens/{token_id}", status_code=204, responses=problems(404) | AUTHED)
def revoke_token(token_id: str, principal: CurrentPrincipal, request: Request) -> None:
    """Revoke one of your API tokens."""
    if not server_of(request).auth.revoke_token(principal.user.id, token_id):
        raise NotFound("You have no API token with that id.")


@router.post("/password", status_code=204, responses=AUTHED)
async def change_password(
    body: PasswordChange, principal: CurrentPrincipal, request: Request
) -> None:
    """Change your password (needs the current one)."""
    server = server_of(request)
    await _check_password(server, principal.user.name, body.current)
    check_password(body.new)
    new_hash = await asyncio.to_thread(server.passwords.hash, body.new)
    server.auth.set_password_hash(principal.user.id, new_hash)


@router.post("/account/erase", status_code=204, responses=AUTHED)
async def erase_account(
    body: PasswordConfirm, principal: CurrentPrincipal, request: Request, response: Response
) -> None:
    """Erase your account and everything of yours, for good (needs your password)."""
    server = server_of(request)
    await _check_password(server, principal.user.name, body.password)
    server.auth.sign_out_everywhere(principal.user.id)
    server.accounts.erase_user(principal.user)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")


__all__ = ["router"]
