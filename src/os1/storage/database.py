"""The database seam and its SQLite implementation.

SQL is written once with `?` placeholders; rows come back as plain dicts. SQLite runs in WAL
mode with synchronous=FULL (a committed transaction survives power loss), foreign keys on, and
secure_delete on (forgotten text is overwritten, not left in free pages). Migrations are named
SQL files applied in order and recorded; they are append-only: never edit an applied one.
Engine errors that a user can act on (disk full, read-only or unopenable directory) become one
StorageError sentence. A process keeps a bounded number of SQLite connections open
(os1.storage.open_files): an idle database may be closed behind its owner's back and reopens,
without migrating again, on its next use; `close()` is final.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Protocol

from os1.errors import StorageError
from os1.storage.open_files import PROCESS_FILES, OpenFiles

Params = Sequence[Any]


class Database(Protocol):
    @property
    def dialect(self) -> Literal["sqlite", "postgres"]: ...  # read-only: each engine narrows it

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]: ...

    def query_many(self, steps: Sequence[tuple[str, Params]]) -> list[list[dict[str, Any]]]:
        """Several statements in one transaction (one round trip on a server); each one's rows."""
        ...

    def execute(self, sql: str, params: Params = ()) -> int:
        """Run a statement; return the new row id for an INSERT, else the changed row count."""
        ...

    def transaction(self) -> contextlib.AbstractContextManager[None]: ...

    def close(self) -> None: ...


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _storage_error(e: sqlite3.Error, where: Path) -> StorageError:
    code = getattr(e, "sqlite_errorcode", None)
    if code == sqlite3.SQLITE_FULL or "disk is full" in str(e):
        return StorageError(
            f"The disk holding {where.parent} is full; nothing was saved or lost — "
            "free some space and try again."
        )
    if code == sqlite3.SQLITE_READONLY or "readonly" in str(e):
        return StorageError(f"os1 cannot write to {where.parent}; check its permissions.")
    if code == sqlite3.SQLITE_CANTOPEN or "unable to open" in str(e):
        return StorageError(f"os1 cannot open its database in {where.parent}; check the path.")
    if code == sqlite3.SQLITE_CORRUPT or "malformed" in str(e):
        return StorageError(f"The database {where} is damaged; restore it from a backup.")
    if code in (sqlite3.SQLITE_IOERR, sqlite3.SQLITE_BUSY) or "locked" in str(e):
        return StorageError(f"os1 could not write {where} ({e}); try again.")
    raise e


class SqliteDatabase:
    dialect: Literal["sqlite"] = "sqlite"

    def __init__(self, path: Path, migrations: str, files: OpenFiles = PROCESS_FILES) -> None:
        self.path = path
        self.files = files
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StorageError(
                f"os1 cannot create its data directory {path.parent} ({e.strerror})."
            ) from None
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._closed = False
        with self._lock, self._errors():
            self._migrate(self._connection(), migrations)

    def _connection(self) -> sqlite3.Connection:
        """The open connection (reopened if the budget closed it); call with the lock held."""
        if self._closed:
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
        if self._conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            for pragma in (
                "journal_mode=WAL",
                "synchronous=FULL",
                "foreign_keys=ON",
                "busy_timeout=10000",
                "secure_delete=ON",
            ):
                conn.execute(f"PRAGMA {pragma}")
            self._conn = conn
        self.files.opened(self)
        return self._conn

    def release(self) -> bool:
        """Close the connection if no one is using it (the open-file budget asks)."""
        if not self._lock.acquire(blocking=False):
            return False
        try:
            if self._conn is not None:
                if self._conn.in_transaction:
                    return False
                self._conn.close()
                self._conn = None
            return True
        finally:
            self._lock.release()

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as e:
            raise _storage_error(e, self.path) from None

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        with self._lock, self._errors():
            return [dict(row) for row in self._connection().execute(sql, params)]

    def query_many(self, steps: Sequence[tuple[str, Params]]) -> list[list[dict[str, Any]]]:
        reads = all(sql.lstrip()[:6].upper() == "SELECT" for sql, _ in steps)
        with self._lock, self._errors():
            conn = self._connection()
            if reads and not conn.in_transaction:  # one snapshot, no write lock
                conn.execute("BEGIN")
                try:
                    return [[dict(r) for r in conn.execute(sql, params)] for sql, params in steps]
                finally:
                    conn.execute("COMMIT")
        with self.transaction(), self._errors():
            conn = self._connection()
            return [[dict(r) for r in conn.execute(sql, params)] for sql, params in steps]

    def execute(self, sql: str, params: Params = ()) -> int:
        with self._lock, self._errors():
            cursor = self._connection().execute(sql, params)
            is_insert = sql.lstrip()[:6].upper() == "INSERT"
            return int(cursor.lastrowid or 0) if is_insert else cursor.rowcount

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            with self._errors():
                conn = self._connection()
            if conn.in_transaction:  # nested: join the outer transaction
                yield
                return
            with self._errors():
                conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
            with self._errors():
                conn.execute("COMMIT")

    def executescript(self, sql: str) -> None:
        with self._lock, self._errors():
            self._connection().executescript(sql)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self.files.closed(self)
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _migrate(self, conn: sqlite3.Connection, family: str) -> None:
        """Apply the named SQL files under migrations/sqlite/<family>/ not yet recorded."""
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT)"
        )
        done = {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}
        folder = resources.files("os1.storage") / "migrations" / "sqlite" / family
        for item in sorted(folder.iterdir(), key=lambda p: p.name):
            name = item.name
            if not name.endswith(".sql") or name in done:
                continue
            script = item.read_text(encoding="utf-8")
            conn.executescript(
                "BEGIN IMMEDIATE;\n"
                + script
                + f"\nINSERT INTO schema_migrations VALUES ('{name}', '{utcnow()}');\nCOMMIT;"
            )
