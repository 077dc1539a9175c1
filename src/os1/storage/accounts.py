"""The users of one installation, and the only way to reach a user's store.

`accounts.db` lists users (id, name); each user's data lives in `users/<id>/os1.db`, opened by
`open_store(user)` and bound to that user. Erasing a user removes their directory outright.

`Accounts.open(config)` chooses the engine: with `database_url` set, the registry and every
user's rows live in one PostgreSQL database (os1.storage.postgres), `open_store(user)` returns
the same `UserStore` on a connection view bound to that user by row-level security, and
erasing a user deletes every row of theirs.
"""

from __future__ import annotations

import secrets
import shutil
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from os1.config import Config
from os1.errors import InputError, NotFound, StorageError
from os1.storage.database import Database, SqliteDatabase, utcnow
from os1.storage.user_store import UserStore

if TYPE_CHECKING:
    from os1.storage.postgres import PostgresPool


@dataclass(frozen=True, slots=True)
class User:
    id: str
    name: str
    created_at: str


def validate_user_name(name: str) -> str:
    name = unicodedata.normalize("NFC", name).strip()
    if not name:
        raise InputError("A user name cannot be empty.")
    if len(name) > 64:
        raise InputError("A user name can be at most 64 characters long.")
    if any(unicodedata.category(c).startswith("C") for c in name) or "/" in name:
        raise InputError("A user name cannot contain control characters or slashes.")
    return name


class Accounts:
    def __init__(self, home: Path, *, pool: PostgresPool | None = None) -> None:
        self.home = home
        self.pool = pool
        self._db: Database
        if pool is None:
            self._db = SqliteDatabase(home / "accounts.db", "accounts")
        else:
            from os1.storage.postgres import PostgresDatabase

            self._db = PostgresDatabase(pool)
        self._stores: dict[str, UserStore] = {}
        self._lock = threading.Lock()

    @classmethod
    def open(cls, config: Config) -> Accounts:
        """SQLite files under `config.home`, or PostgreSQL when `config.database_url` is set."""
        if not config.database_url:
            return cls(config.home)
        from os1.storage.postgres import PostgresPool

        pool = PostgresPool(config.database_url, owner_url=config.database_owner_url)
        return cls(config.home, pool=pool)

    def close(self) -> None:
        for store in self._stores.values():
            store.close()
        self._stores.clear()
        self._db.close()
        if self.pool is not None:
            self.pool.close()

    @property
    def db(self) -> Database:
        """The registry database (users and their sign-in data), for the server's auth store."""
        return self._db

    def _user(self, row: dict[str, object]) -> User:
        return User(str(row["id"]), str(row["name"]), str(row["created_at"]))

    def list_users(self) -> list[User]:
        return [self._user(r) for r in self._db.query("SELECT * FROM users ORDER BY created_at")]

    def get_user(self, name: str) -> User:
        rows = self._db.query("SELECT * FROM users WHERE name = ?", (name.strip(),))
        if not rows:
            raise NotFound(f"There is no user called {name!r}.")
        return self._user(rows[0])

    def get_user_by_id(self, user_id: str) -> User:
        rows = self._db.query("SELECT * FROM users WHERE id = ?", (user_id,))
        if not rows:
            raise NotFound("There is no such user.")
        return self._user(rows[0])

    def create_user(self, name: str) -> User:
        name = validate_user_name(name)
        if self._db.query("SELECT 1 FROM users WHERE name = ?", (name,)):
            raise InputError(f"A user called {name!r} already exists.")
        user = User(secrets.token_hex(8), name, utcnow())
        self._db.execute(
            "INSERT INTO users (id, name, created_at) VALUES (?, ?, ?)",
            (user.id, user.name, user.created_at),
        )
        return user

    def ensure_user(self, name: str) -> User:
        try:
            return self.get_user(name)
        except NotFound:
            return self.create_user(name)

    def user_dir(self, user: User) -> Path:
        return self.home / "users" / user.id

    def open_store(self, user: User) -> UserStore:
        """The user's store, bound to them; cached so one process holds one connection."""
        with self._lock:  # server routes run in threads: open (and migrate) each store once
            return self._open_store(user)

    def _open_store(self, user: User) -> UserStore:
        store = self._stores.get(user.id)
        if store is None:
            db: Database
            if self.pool is None:
                db = SqliteDatabase(self.user_dir(user) / "os1.db", "user")
            else:
                from os1.storage.postgres import PostgresDatabase

                db = PostgresDatabase(self.pool, user.id)
            store = self._stores[user.id] = UserStore(db, user.id)
        return store

    def erase_user(self, user: User) -> None:
        """Remove the user and everything of theirs: the database, caches, derived files."""
        store = self._stores.pop(user.id, None)
        if store is not None:
            store.close()
        if self.pool is not None:
            from os1.storage.postgres import erase_rows

            erase_rows(self.pool, user.id)
        try:
            shutil.rmtree(self.user_dir(user), ignore_errors=False)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise StorageError(f"Could not erase {self.user_dir(user)} ({e.strerror}).") from None
        self._db.execute("DELETE FROM users WHERE id = ?", (user.id,))
