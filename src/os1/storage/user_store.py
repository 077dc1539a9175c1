"""One user's conversation store: sessions, messages, identity.

Constructed for exactly one user; every statement filters by that user's id as well (the
database file itself is already theirs on SQLite; on PostgreSQL the filter meets row-level
security). Writes commit before returning (or with the `transaction()` they are inside):
`add_message` returning means the message is on disk, which is what lets a turn acknowledge it.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from os1.messages import MessageStatus, Role, StoredMessage
from os1.persona.identity import Identity
from os1.storage.database import Database, utcnow


def _message(row: dict[str, Any]) -> StoredMessage:
    return StoredMessage(
        id=int(row["id"]),
        session_id=int(row["session_id"]),
        role=row["role"],
        content=row["content"],
        status=row["status"],
        created_at=datetime.fromisoformat(row["created_at"]),
        meta=json.loads(row["meta"] or "{}"),
    )


def _identity(rows: list[dict[str, Any]]) -> Identity:
    if not rows:
        return Identity()
    row = rows[0]
    return Identity(
        os_name=row["os_name"],
        voice=row["voice"],
        user_name=row["user_name"],
        onboarding_step=row["onboarding_step"],
        answers=json.loads(row["onboarding"] or "{}"),
    )


class UserStore:
    def __init__(self, db: Database, user_id: str) -> None:
        self.db = db
        self.user_id = user_id

    def close(self) -> None:
        self.db.close()

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """Several writes committed together (one disk flush); calls inside join it."""
        return self.db.transaction()

    # --- sessions and messages -------------------------------------------------------------

    def start_session(self, channel: str = "text", started_at: str | None = None) -> int:
        return self.db.execute(
            "INSERT INTO sessions (user_id, channel, started_at) VALUES (?, ?, ?)",
            (self.user_id, channel, started_at or utcnow()),
        )

    def add_message(
        self,
        session_id: int,
        role: Role,
        content: str,
        status: MessageStatus = "complete",
        meta: dict[str, Any] | None = None,
        created_at: str | None = None,
    ) -> StoredMessage:
        created = created_at or utcnow()
        meta = meta or {}
        message_id = self.db.execute(
            "INSERT INTO messages (user_id, session_id, role, content, status, created_at, meta)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (self.user_id, session_id, role, content, status, created, json.dumps(meta)),
        )
        return StoredMessage(
            message_id, session_id, role, content, status, datetime.fromisoformat(created), meta
        )

    def update_message(
        self,
        message_id: int,
        content: str,
        status: MessageStatus,
        meta: dict[str, Any] | None = None,
    ) -> None:
        if meta is None:
            self.db.execute(
                "UPDATE messages SET content = ?, status = ? WHERE id = ? AND user_id = ?",
                (content, status, message_id, self.user_id),
            )
        else:
            self.db.execute(
                "UPDATE messages SET content = ?, status = ?, meta = ?"
                " WHERE id = ? AND user_id = ?",
                (content, status, json.dumps(meta), message_id, self.user_id),
            )

    def get_message(self, message_id: int) -> StoredMessage | None:
        rows = self.db.query(
            "SELECT * FROM messages WHERE id = ? AND user_id = ?", (message_id, self.user_id)
        )
        return _message(rows[0]) if rows else None

    def messages(
        self, *, limit: int | None = None, session_id: int | None = None
    ) -> list[StoredMessage]:
        """The latest `limit` messages (optionally of one session), oldest first."""
        return [_message(r) for r in reversed(self.db.query(*self._latest(limit, session_id)))]

    def _latest(self, limit: int | None, session_id: int | None = None) -> tuple[str, list[Any]]:
        sql = "SELECT * FROM messages WHERE user_id = ?"
        params: list[Any] = [self.user_id]
        if session_id is not None:
            sql += " AND session_id = ?"
            params.append(session_id)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return sql, params

    def add_messages(
        self, session_id: int, rows: list[tuple[Role, str, MessageStatus]]
    ) -> list[StoredMessage]:
        """Several messages in one statement (one round trip on a server), in order."""
        created = utcnow()
        values = ", ".join("(?, ?, ?, ?, ?, ?, ?)" for _ in rows)
        params = [
            a
            for role, content, status in rows
            for a in (self.user_id, session_id, role, content, status, created, "{}")
        ]
        ids = self.db.query(
            "INSERT INTO messages (user_id, session_id, role, content, status, created_at, meta)"
            f" VALUES {values} RETURNING id",
            params,
        )
        # Ids grow in insertion order on both engines; RETURNING's own order is not promised.
        when = datetime.fromisoformat(created)
        return [
            StoredMessage(number, session_id, role, content, status, when, {})
            for number, (role, content, status) in zip(
                sorted(int(r["id"]) for r in ids), rows, strict=True
            )
        ]

    def turn_state(self, limit: int) -> tuple[Identity, list[StoredMessage]]:
        """The identity and the latest `limit` messages, read together (one round trip)."""
        identity, latest = self.db.query_many([self._identity_query(), self._latest(limit)])
        return _identity(identity), [_message(r) for r in reversed(latest)]

    def recover(self) -> int:
        """Mark replies left `streaming` by a crash as `interrupted`; return how many."""
        return self.db.execute(
            "UPDATE messages SET status = 'interrupted' WHERE status = 'streaming' AND user_id = ?",
            (self.user_id,),
        )

    # --- identity ----------------------------------------------------------------------------

    def get_identity(self) -> Identity:
        return _identity(self.db.query(*self._identity_query()))

    def _identity_query(self) -> tuple[str, list[Any]]:
        return "SELECT * FROM identity WHERE user_id = ?", [self.user_id]

    def save_identity(self, identity: Identity, reason: str = "") -> None:
        """Store the identity and record each changed field in identity_history."""
        old = asdict(self.get_identity())
        new = asdict(identity)
        now = utcnow()
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO identity (user_id, os_name, voice, user_name, onboarding_step,"
                " onboarding, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (user_id) DO UPDATE SET os_name = excluded.os_name,"
                " voice = excluded.voice, user_name = excluded.user_name,"
                " onboarding_step = excluded.onboarding_step, onboarding = excluded.onboarding,"
                " updated_at = excluded.updated_at",
                (
                    self.user_id,
                    identity.os_name,
                    identity.voice,
                    identity.user_name,
                    identity.onboarding_step,
                    json.dumps(identity.answers),
                    now,
                    now,
                ),
            )
            for key in ("os_name", "voice", "user_name"):
                if old[key] != new[key]:
                    self.db.execute(
                        "INSERT INTO identity_history (user_id, changed_at, field, old_value,"
                        " new_value, reason) VALUES (?, ?, ?, ?, ?, ?)",
                        (self.user_id, now, key, old[key], new[key], reason),
                    )

    def identity_history(self) -> list[dict[str, Any]]:
        return self.db.query(
            "SELECT changed_at, field, old_value, new_value, reason FROM identity_history"
            " WHERE user_id = ? ORDER BY id",
            (self.user_id,),
        )
