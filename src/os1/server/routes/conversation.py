"""History and identity: what was said, and who the OS is (the first meeting included).

The conversation itself streams over the WebSocket in os1.server.websocket.
"""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter, Query

from os1.errors import InputError
from os1.server.deps import CurrentStore
from os1.server.schemas import (
    AUTHED,
    IdentityChangeOut,
    IdentityOut,
    MessageOut,
    VoiceChoice,
    VoiceOut,
)
from os1.storage.user_store import UserStore
from os1.voices import VOICES, voice_by_id

router = APIRouter(prefix="/api", tags=["conversation"])


@router.get("/history", response_model=list[MessageOut], responses=AUTHED)
def history(store: CurrentStore, limit: int = Query(100, ge=1, le=1000)) -> list[MessageOut]:
    """Your latest messages, oldest first."""
    return [
        MessageOut(
            id=m.id,
            session_id=m.session_id,
            role=m.role,
            content=m.content,
            status=m.status,
            created_at=m.created_at.isoformat(),
        )
        for m in store.messages(limit=limit)
    ]


def identity_out(store: UserStore) -> IdentityOut:
    ident = store.get_identity()
    return IdentityOut(
        os_name=ident.os_name,
        voice=ident.voice,
        user_name=ident.user_name,
        onboarded=ident.onboarded,
        first_meeting=dict(ident.answers),
        history=[IdentityChangeOut(**row) for row in store.identity_history()],
        voices=[VoiceOut(id=v.id, name=v.name, description=v.description) for v in VOICES],
    )


@router.get("/identity", response_model=IdentityOut, responses=AUTHED)
def identity(store: CurrentStore) -> IdentityOut:
    """Who your OS is: its name and voice, what it learned at the first meeting, its history."""
    return identity_out(store)


@router.put("/identity/voice", response_model=IdentityOut, responses=AUTHED)
def choose_voice(body: VoiceChoice, store: CurrentStore) -> IdentityOut:
    """Change the voice your OS speaks in."""
    voice = voice_by_id(str(body.voice))
    if voice is None:
        names = ", ".join(v.id for v in VOICES)
        raise InputError(f"There is no voice called {body.voice!r}; choose one of {names}.")
    ident = store.get_identity()
    if ident.voice != voice.id:
        store.save_identity(replace(ident, voice=voice.id), reason="changed in settings")
    return identity_out(store)


__all__ = ["identity_out", "router"]
