"""Sign-in data in the accounts database: password hashes, API tokens, web sessions.

Secrets (bearer tokens, session cookies) are random 256-bit strings handed to the client once;
only their SHA-256 digests are stored, so a copy of the database signs no one in. Every lookup
checks expiry. Rows reference `users(id)` with ON DELETE CASCADE: erasing a user signs them out
everywhere. The SQL is the portable subset of migrations/sqlite/accounts/0030_auth.sql.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from os1.storage.database import Database

TOKEN_PREFIX = "os1_"


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: str
    label: str
    created_at: str
    expires_at: str


@dataclass(frozen=True, slots=True)
class WebSession:
    user_id: str
    csrf_token: str


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


class AuthStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- passwords ---------------------------------------------------------------------------

    def password_hash(self, user_id: str) -> str | None:
        rows = self.db.query("SELECT hash FROM passwords WHERE user_id = ?", (user_id,))
        return str(rows[0]["hash"]) if rows else None

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        with self.db.transaction():
            self.db.execute("DELETE FROM passwords WHERE user_id = ?", (user_id,))
            self.db.execute(
                "INSERT INTO passwords (user_id, hash, updated_at) VALUES (?, ?, ?)",
                (user_id, password_hash, _iso(_now())),
            )

    # --- API bearer tokens -------------------------------------------------------------------

    def create_token(self, user_id: str, label: str, days: float) -> tuple[TokenInfo, str]:
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = _now()
        info = TokenInfo(secrets.token_hex(8), label, _iso(now), _iso(now + timedelta(days=days)))
        self.db.execute(
            "INSERT INTO api_tokens (id, user_id, token_hash, label, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (info.id, user_id, digest(secret), label, info.created_at, info.expires_at),
        )
        return info, secret

    def user_for_token(self, secret: str) -> str | None:
        rows = self.db.query(
            "SELECT user_id FROM api_tokens WHERE token_hash = ? AND expires_at > ?",
            (digest(secret), _iso(_now())),
        )
        return str(rows[0]["user_id"]) if rows else None

    def tokens(self, user_id: str) -> list[TokenInfo]:
        rows = self.db.query(
            "SELECT id, label, created_at, expires_at FROM api_tokens"
            " WHERE user_id = ? ORDER BY created_at",
            (user_id,),
        )
        return [TokenInfo(r["id"], r["label"], r["created_at"], r["expires_at"]) for r in rows]

    def revoke_token(self, user_id: str, token_id: str) -> bool:
        changed = self.db.execute(
            "DELETE FROM api_tokens WHERE id = ? AND user_id = ?", (token_id, user_id)
        )
        return changed > 0

    # --- web sessions (cookies) --------------------------------------------------------------

    def create_web_session(self, user_id: str, days: float) -> tuple[str, WebSession]:
        secret = secrets.token_urlsafe(32)
        session = WebSession(user_id, secrets.token_urlsafe(32))
        now = _now()
        self.db.execute(
            "INSERT INTO web_sessions (token_hash, user_id, csrf_token, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (digest(secret), user_id, session.csrf_token, _iso(now), _iso(now + timedelta(days))),
        )
        return secret, session

    def web_session(self, secret: str) -> WebSession | None:
        rows = self.db.query(
            "SELECT user_id, csrf_token FROM web_sessions WHERE token_hash = ? AND expires_at > ?",
            (digest(secret), _iso(_now())),
        )
        return WebSession(str(rows[0]["user_id"]), str(rows[0]["csrf_token"])) if rows else None

    def end_web_session(self, secret: str) -> None:
        self.db.execute("DELETE FROM web_sessions WHERE token_hash = ?", (digest(secret),))

    def sign_out_everywhere(self, user_id: str) -> None:
        with self.db.transaction():
            self.db.execute("DELETE FROM web_sessions WHERE user_id = ?", (user_id,))
            self.db.execute("DELETE FROM api_tokens WHERE user_id = ?", (user_id,))

    def purge_expired(self) -> int:
        now = _iso(_now())
        with self.db.transaction():
            n = self.db.execute("DELETE FROM web_sessions WHERE expires_at <= ?", (now,))
            return n + self.db.execute("DELETE FROM api_tokens WHERE expires_at <= ?", (now,))


__all__ = ["TOKEN_PREFIX", "AuthStore", "TokenInfo", "WebSession", "digest"]
