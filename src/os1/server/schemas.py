"""The API's shapes at the trust boundary: request bodies (validated) and responses.

Request models forbid unknown fields and bound every string, so a malformed or oversized body
is a 422 before any route runs.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from os1.server.passwords import MAX_LENGTH, MIN_LENGTH
from os1.voices import VOICES

VOICE_IDS = tuple(v.id for v in VOICES)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


NAME_PATTERN = r"^[^/\x00-\x1f\x7f-\x9f]*[^\s/\x00-\x1f\x7f-\x9f][^/\x00-\x1f\x7f-\x9f]*$"


class Credentials(_Body):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=MAX_LENGTH)


class NewAccount(_Body):
    name: str = Field(min_length=1, max_length=64, pattern=NAME_PATTERN)
    password: str = Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH)


class TokenGrant(Credentials):
    label: str = Field(default="api", min_length=1, max_length=64)
    days: float | None = Field(default=None, gt=0, le=366)


class NewToken(_Body):
    label: str = Field(default="api", min_length=1, max_length=64)
    days: float | None = Field(default=None, gt=0, le=366)


class PasswordChange(_Body):
    current: str = Field(min_length=1, max_length=MAX_LENGTH)
    new: str = Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH)


class PasswordConfirm(_Body):
    password: str = Field(min_length=1, max_length=MAX_LENGTH)


class VoiceChoice(_Body):
    voice: Literal[VOICE_IDS]  # type: ignore[valid-type]


class Problem(BaseModel):
    detail: Any


class Info(BaseModel):
    open_signup: bool
    max_input_chars: int
    memory: bool
    voice: bool


class Me(BaseModel):
    id: str
    name: str
    via: Literal["cookie", "bearer"]
    csrf_token: str | None = None


class TokenOut(BaseModel):
    id: str
    label: str
    created_at: str
    expires_at: str


class IssuedToken(TokenOut):
    token: str


class MessageOut(BaseModel):
    id: int
    session_id: int
    role: str
    content: str
    status: str
    created_at: str


class VoiceOut(BaseModel):
    id: str
    name: str
    description: str


class IdentityChangeOut(BaseModel):
    changed_at: str
    field: str
    old_value: str | None
    new_value: str | None
    reason: str | None


class IdentityOut(BaseModel):
    os_name: str | None
    voice: str | None
    user_name: str | None
    onboarded: bool
    first_meeting: dict[str, str]
    history: list[IdentityChangeOut]
    voices: list[VoiceOut]


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error answers a route can give (all `{"detail": …}`)."""
    text = {
        400: "Bad input (one sentence says why)",
        409: "That name is taken",
        401: "Not signed in, or the credentials are invalid or expired",
        403: "Not allowed (missing CSRF token, foreign origin, sign-up closed)",
        404: "No such thing for this user",
        413: "Request body too large",
        429: "Too many requests; see Retry-After",
        503: "Busy or unavailable; try again",
    }
    return {code: {"model": Problem, "description": text[code]} for code in codes}


AUTHED = problems(400, 401, 403, 413, 429, 503)

__all__ = [
    "AUTHED",
    "Credentials",
    "IdentityChangeOut",
    "IdentityOut",
    "Info",
    "IssuedToken",
    "Me",
    "MessageOut",
    "NewAccount",
    "NewToken",
    "PasswordChange",
    "PasswordConfirm",
    "Problem",
    "TokenGrant",
    "TokenOut",
    "VoiceChoice",
    "VoiceOut",
    "problems",
]
