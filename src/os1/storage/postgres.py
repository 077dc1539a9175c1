"""The `Database` seam on PostgreSQL (psycopg 3 with a connection pool).

One process holds one pool per database URL (`PostgresPool`); a `PostgresDatabase` is a light
view over it, optionally bound to one user. Tenant tables carry `user_id` and are guarded by
row-level security that is FORCED (it applies to the table owner too): their policy admits a
row only when `user_id = current_setting('app.user_id')`. A view bound to a user runs every
statement inside a transaction that first sets `app.user_id` for that transaction only
(`set_config(..., true)`, i.e. SET LOCAL), so even a raw `SELECT * FROM messages` sees only that
user's rows, and the setting cannot leak to the next borrower of the pooled connection. An
unbound view (the accounts registry) sets nothing and so sees no tenant row at all.

SQL is written once with `?` placeholders (translated to psycopg's `%s`, outside quotes and
comments). `execute` returns the new `id` of an INSERT into a table with an integer `id` column
(by appending `RETURNING id`), else the changed row count, like the SQLite implementation.

Migrations are the named files under `migrations/postgres/<family>/`, applied once per
database under an advisory lock (several app workers may start at once), by the schema owner
(`owner_url`) when one is given. The app role is then granted row access and nothing more. The
app refuses to run as a superuser or a BYPASSRLS role, which row-level security cannot guard.
"""

from __future__ import annotations

import contextlib
import functools
import re
import threading
from collections.abc import Iterator, Sequence
from importlib import resources
from typing import Any, Literal

from os1.errors import ConfigError, StorageError
from os1.storage.database import Params, utcnow

try:
    import psycopg
    from psycopg import sql
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool, PoolTimeout
except ImportError:  # pragma: no cover - depends on the install
    psycopg = None  # type: ignore[assignment]

FAMILIES = ("accounts", "user")
_MIGRATION_LOCK = 0x05_1_0_5_1  # pg_advisory_xact_lock key: one migrator at a time
_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/|\?|%", re.S)
_INSERT_INTO = re.compile(r"^\s*INSERT\s+INTO\s+([A-Za-z_][A-Za-z0-9_]*)", re.I)


@functools.lru_cache(maxsize=1024)
def translate(query: str) -> str:
    """`?` placeholders to `%s`, and a literal `%` to `%%`, outside quotes and comments."""

    def swap(m: re.Match[str]) -> str:
        token = m.group(0)
        return "%s" if token == "?" else "%%" if token == "%" else token

    return _TOKEN.sub(swap, query)


def _require_psycopg() -> None:
    if psycopg is None:
        raise ConfigError("PostgreSQL support is not installed; run: pip install 'os1[postgres]'.")


def _unreachable(e: Exception) -> StorageError:
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return StorageError(f"os1 cannot reach its PostgreSQL database ({first}); try again.")


class PostgresPool:
    """The process's connections to one database, plus what the schema looks like."""

    def __init__(
        self, url: str, *, owner_url: str | None = None, min_size: int = 1, max_size: int = 16
    ) -> None:
        _require_psycopg()
        self.url = url
        try:
            # One plain connection first: it fails fast (no pool retry loop) when the database
            # is unreachable, and lets us refuse a role that row-level security cannot guard.
            with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
                role = conn.execute(
                    "SELECT rolname, rolsuper, rolbypassrls FROM pg_roles"
                    " WHERE rolname = current_user"
                ).fetchone()
            if role and (role["rolsuper"] or role["rolbypassrls"]):
                raise ConfigError(
                    f"OS1_DATABASE_URL connects as {role['rolname']!r}, a superuser or BYPASSRLS"
                    " role that row-level security cannot guard; connect as the os1 app role"
                    " (see docs/deploy.md)."
                )
            if owner_url:
                _migrate(owner_url, app_url=url)
            self._pool = ConnectionPool(
                url,
                min_size=min_size,
                max_size=max_size,
                kwargs={"autocommit": True, "row_factory": dict_row},
                open=False,
                timeout=30.0,
            )
            self._pool.open(wait=True, timeout=30.0)
        except (psycopg.OperationalError, PoolTimeout) as e:
            raise _unreachable(e) from None
        if not owner_url:
            _migrate(url, app_url=None)
        with self.connection() as conn:
            rows = conn.execute(
                "SELECT table_name FROM information_schema.columns WHERE table_schema ="
                " current_schema() AND column_name = 'id' AND data_type IN ('bigint', 'integer')"
            ).fetchall()
        self.id_tables = frozenset(str(r["table_name"]) for r in rows)

    @contextlib.contextmanager
    def connection(self) -> Iterator[Any]:
        try:
            with self._pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as e:
            raise _unreachable(e) from None

    def close(self) -> None:
        self._pool.close()


class PostgresDatabase:
    """A `Database` on a shared pool; bound to `user_id`, it sees only that user's rows."""

    dialect: Literal["postgres"] = "postgres"

    def __init__(self, pool: PostgresPool, user_id: str | None = None) -> None:
        self.pool = pool
        self.user_id = user_id
        self._local = threading.local()  # the connection of the open transaction, per thread

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        if getattr(self._local, "conn", None) is not None:  # nested: join the outer one
            yield
            return
        with self.pool.connection() as conn:
            # BEGIN and the user setting in one simple query (one round trip, as in `_run`);
            # the pool's connections are in autocommit mode, so the block is ours to end.
            if self.user_id is not None:
                psycopg.ClientCursor(conn).execute(
                    "BEGIN; SELECT set_config('app.user_id', %s, true)", (self.user_id,)
                )
            else:
                conn.execute("BEGIN")
            self._local.conn = conn
            try:
                yield
            except BaseException:
                with contextlib.suppress(psycopg.Error):
                    conn.execute("ROLLBACK")
                raise
            finally:
                self._local.conn = None
            conn.execute("COMMIT")

    def _run(self, query: str, params: Params) -> Any:
        """Execute one statement; return its cursor, positioned on the statement's result."""
        return self._run_all([(query, params)])

    def _run_all(self, steps: Sequence[tuple[str, Params]]) -> Any:
        """Execute statements in one transaction; return the cursor on the first one's result
        (`nextset()` moves to the next)."""
        if getattr(self._local, "conn", None) is not None:  # inside transaction(): join it
            conn = self._local.conn
            if len(steps) == 1:
                query, params = steps[0]
                return conn.execute(translate(query), tuple(params) or None)
            cur = psycopg.ClientCursor(conn)  # several statements: one simple query
            cur.execute(
                "; ".join(translate(q) for q, _ in steps),
                tuple(a for _, params in steps for a in params),
            )
            return cur
        # Standalone statements: BEGIN, SET LOCAL the user, the statements and COMMIT go to the
        # server as one simple query (one round trip instead of four or more; it measured ~40%
        # less time per statement). psycopg's ClientCursor quotes the values as literals, with
        # the connection's encoding. On an error the rest is skipped: roll back explicitly.
        head = "BEGIN; SELECT set_config('app.user_id', %s, true); " if self.user_id else "BEGIN; "
        with self.pool.connection() as conn:
            cur = psycopg.ClientCursor(conn)
            try:
                cur.execute(
                    head + "; ".join(translate(q) for q, _ in steps) + "; COMMIT",
                    ((self.user_id,) if self.user_id else ())
                    + tuple(a for _, params in steps for a in params),
                )
            except BaseException:
                with contextlib.suppress(psycopg.Error):
                    conn.execute("ROLLBACK")
                raise
            for _ in range(2 if self.user_id else 1):
                cur.nextset()  # past BEGIN (and set_config) to the first statement's result
            return cur

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        cur = self._run(sql, params)
        return list(cur.fetchall()) if cur.description else []

    def query_many(self, steps: Sequence[tuple[str, Params]]) -> list[list[dict[str, Any]]]:
        cur = self._run_all(steps)
        results: list[list[dict[str, Any]]] = []
        for _ in steps:
            results.append(list(cur.fetchall()) if cur.description else [])
            cur.nextset()
        return results

    def execute(self, sql: str, params: Params = ()) -> int:
        m = _INSERT_INTO.match(sql)
        returning = (
            m is not None
            and m.group(1).lower() in self.pool.id_tables
            and "RETURNING" not in sql.upper()
        )
        if returning:
            sql = sql.rstrip().rstrip(";") + " RETURNING id"
        cur = self._run(sql, params)
        if returning:
            row = cur.fetchone()
            return int(row["id"]) if row else 0
        return int(cur.rowcount)

    def close(self) -> None:
        """A view holds no connection of its own; the pool's owner closes the pool."""


def _pending(conn: Any) -> list[tuple[str, str, str]]:
    """(family, name, script) of the migrations this database has not applied yet."""
    folder = resources.files("os1.storage") / "migrations" / "postgres"
    done: set[tuple[str, str]] = set()
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()[0]
    if exists:
        done = {
            (str(f), str(n)) for f, n in conn.execute("SELECT family, name FROM schema_migrations")
        }
    return [
        (family, item.name, item.read_text(encoding="utf-8"))
        for family in FAMILIES
        for item in sorted((folder / family).iterdir(), key=lambda p: p.name)
        if item.name.endswith(".sql") and (family, item.name) not in done
    ]


_GRANTS = (
    "GRANT USAGE ON SCHEMA public TO {}",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}",
    "REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM {}",
    "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}",
)


def _migrate(url: str, *, app_url: str | None) -> None:
    """Apply pending migrations of every family; grant the app role (if distinct) row access."""
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            app_role = None
            if app_url:
                with psycopg.connect(app_url) as app:
                    got = app.execute("SELECT current_user").fetchone()
                    app_role = str(got[0]) if got else None
            if not _pending(conn) and not app_role:
                return
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (family TEXT NOT NULL,"
                    " name TEXT NOT NULL, applied_at TEXT NOT NULL, PRIMARY KEY (family, name))"
                )
                for family, name, script in _pending(conn):  # again, under the lock
                    conn.execute(script.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations VALUES (%s, %s, %s)",
                        (family, name, utcnow()),
                    )
                me = conn.execute("SELECT current_user").fetchone()
                if app_role and me and app_role != me[0]:
                    for grant in _GRANTS:
                        conn.execute(sql.SQL(grant).format(sql.Identifier(app_role)))
    except psycopg.OperationalError as e:
        raise _unreachable(e) from None
    except (psycopg.errors.InsufficientPrivilege, psycopg.errors.InvalidSchemaName) as e:
        raise StorageError(
            "The os1 database schema needs migrating and this role may not do it"
            f" ({e.diag.message_primary}); set OS1_DATABASE_OWNER_URL to the schema owner"
            " (see docs/deploy.md)."
        ) from None


def tenant_tables(db: PostgresDatabase) -> list[str]:
    """Every table in the schema that carries a `user_id` column."""
    rows = db.query(
        "SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema()"
        " AND column_name = 'user_id' ORDER BY table_name"
    )
    return [str(r["table_name"]) for r in rows]


def erase_rows(pool: PostgresPool, user_id: str) -> int:
    """Delete every row of `user_id` from every table that has a `user_id` column, in one
    transaction set to that user (so row-level security admits exactly their rows). Tables are
    retried in later passes when a foreign key still points at them; return rows deleted."""
    db = PostgresDatabase(pool, user_id)
    deleted = 0
    with db.transaction():
        conn = db._local.conn
        left = tenant_tables(db)
        while left:
            blocked: list[str] = []
            for table in left:
                try:
                    with conn.transaction():  # a savepoint
                        stmt = sql.SQL("DELETE FROM {} WHERE user_id = %s").format(
                            sql.Identifier(table)
                        )
                        deleted += conn.execute(stmt, (user_id,)).rowcount
                except psycopg.errors.ForeignKeyViolation:
                    blocked.append(table)
            if len(blocked) == len(left):
                raise StorageError(
                    f"Could not erase the user: {', '.join(blocked)} still refer to them."
                )
            left = blocked
    return deleted


__all__ = ["PostgresDatabase", "PostgresPool", "erase_rows", "tenant_tables", "translate"]
