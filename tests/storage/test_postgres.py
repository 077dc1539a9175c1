"""PostgreSQL specifics: placeholder translation, row-level security proven with raw SQL on
the app role's own connections, migrations mirrored and applied once, and refusals."""

from __future__ import annotations

import re
import threading
from importlib import resources

import psycopg
import pytest

from os1.config import Config
from os1.errors import ConfigError, StorageError
from os1.persona.identity import Identity
from os1.storage import Accounts
from os1.storage.postgres import PostgresDatabase, PostgresPool, translate
from tests.pg import DatabaseUrls, PostgresServer

MIGRATIONS = resources.files("os1.storage") / "migrations"


def test_translate_placeholders_outside_quotes_and_comments():
    assert translate("SELECT * FROM t WHERE a = ? AND b = ?") == (
        "SELECT * FROM t WHERE a = %s AND b = %s"
    )
    assert translate("SELECT '?', \"q?\", 5 % 2 -- why?\n, ?") == (
        "SELECT '?', \"q?\", 5 %% 2 -- why?\n, %s"
    )
    assert translate("SELECT 'it''s ?' /* ? */ WHERE x = ?") == (
        "SELECT 'it''s ?' /* ? */ WHERE x = %s"
    )


def _families(engine: str) -> dict[str, set[str]]:
    return {
        family: {
            p.name for p in (MIGRATIONS / engine / family).iterdir() if p.name.endswith(".sql")
        }
        for family in ("accounts", "user")
    }


def test_every_sqlite_migration_has_a_postgres_mirror():
    sqlite, postgres = _families("sqlite"), _families("postgres")
    for family in sqlite:
        missing = sorted(sqlite[family] - postgres[family])
        assert not missing, (
            f"write src/os1/storage/migrations/postgres/{family}/ mirrors of {missing}: tenant"
            " tables need user_id plus a FORCED row-level security policy (see 0001_core.sql)"
        )


def _seed(pg_config: Config) -> tuple[Accounts, str, str]:
    accounts = Accounts.open(pg_config)
    alice, bob = accounts.ensure_user("alice"), accounts.ensure_user("bob")
    a = accounts.open_store(alice)
    a.add_message(a.start_session(), "user", "canary-rls-a1")
    a.save_identity(Identity(os_name="Samantha"), "named")
    accounts.open_store(bob).add_message(accounts.open_store(bob).start_session(), "user", "b")
    return accounts, alice.id, bob.id


def test_app_role_set_for_b_sees_none_of_a_with_raw_sql(pg_config: Config, pg_urls: DatabaseUrls):
    accounts, alice, bob = _seed(pg_config)
    accounts.close()
    with psycopg.connect(pg_urls.app_url, autocommit=True) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relrowsecurity"
            )
        ]
        assert {"messages", "sessions", "identity", "identity_history"} <= set(tables)
        with conn.transaction():
            conn.execute("SELECT set_config('app.user_id', %s, true)", (bob,))
            rows = conn.execute("SELECT * FROM messages").fetchall()
            assert len(rows) == 1 and "canary" not in str(rows)
            for table in tables:
                assert "canary" not in str(conn.execute(f"SELECT * FROM {table}").fetchall())
            assert conn.execute("SELECT count(*) FROM identity").fetchone() == (0,)
            # Nor can B write rows into A's name, or change A's.
            assert (
                conn.execute(
                    "UPDATE messages SET content = 'x' WHERE user_id = %s", (alice,)
                ).rowcount
                == 0
            )
        with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
            conn.execute("SELECT set_config('app.user_id', %s, true)", (bob,))
            conn.execute("INSERT INTO sessions (user_id, started_at) VALUES (%s, 'now')", (alice,))
        # Outside a transaction that set it, no tenant row is visible at all.
        assert conn.execute("SELECT count(*) FROM messages").fetchone() == (0,)
        # And the app role cannot turn the guard off.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("ALTER TABLE messages NO FORCE ROW LEVEL SECURITY")


def test_every_user_table_is_forced_under_row_level_security(
    pg_config: Config, pg_urls: DatabaseUrls
):
    Accounts.open(pg_config).close()
    registry = {
        m.group(1)
        for p in (MIGRATIONS / "postgres" / "accounts").iterdir()
        for m in re.finditer(r"CREATE TABLE (\w+)", p.read_text())
    }
    with psycopg.connect(pg_urls.owner_url) as conn:
        rows = conn.execute(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind = 'r'"
        ).fetchall()
    tenant = {r[0]: (r[1], r[2]) for r in rows if r[0] not in registry | {"schema_migrations"}}
    assert "messages" in tenant
    assert {name: flags for name, flags in tenant.items() if flags != (True, True)} == {}


def test_the_user_setting_does_not_leak_to_the_next_borrower(pg_urls: DatabaseUrls):
    pool = PostgresPool(pg_urls.app_url, owner_url=pg_urls.owner_url, min_size=1, max_size=1)
    try:
        alice = PostgresDatabase(pool, "alice-id")
        alice.execute("INSERT INTO sessions (user_id, started_at) VALUES (?, ?)", ("alice-id", "t"))
        assert len(alice.query("SELECT * FROM sessions")) == 1
        assert PostgresDatabase(pool).query("SELECT * FROM sessions") == []
        assert PostgresDatabase(pool, "bob-id").query("SELECT * FROM sessions") == []
        with alice.transaction():  # statements inside one transaction share its connection
            new = alice.execute(
                "INSERT INTO sessions (user_id, started_at) VALUES (?, ?)", ("alice-id", "t2")
            )
            assert alice.query("SELECT id FROM sessions WHERE id = ?", (new,)) == [{"id": new}]
        with pytest.raises(RuntimeError), alice.transaction():
            alice.execute(
                "INSERT INTO sessions (user_id, started_at) VALUES (?, ?)",
                ("alice-id", "rolled back"),
            )
            raise RuntimeError
        assert len(alice.query("SELECT * FROM sessions")) == 2
    finally:
        pool.close()


def test_migrations_apply_once_even_with_racing_workers(pg_urls: DatabaseUrls):
    pools: list[PostgresPool] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            pools.append(PostgresPool(pg_urls.app_url, owner_url=pg_urls.owner_url, max_size=2))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = PostgresDatabase(pools[0]).query("SELECT family, name FROM schema_migrations")
    names = [(r["family"], r["name"]) for r in rows]
    assert ("user", "0001_core.sql") in names and len(names) == len(set(names))
    expected = sum(len(v) for v in _families("postgres").values())
    assert len(names) == expected
    for pool in pools:
        pool.close()


def test_a_non_owner_app_role_without_owner_url_cannot_migrate(pg_urls: DatabaseUrls):
    with pytest.raises(StorageError, match="OS1_DATABASE_OWNER_URL"):
        PostgresPool(pg_urls.app_url)


def test_a_superuser_url_is_refused(pg_server: PostgresServer):
    with pytest.raises(ConfigError, match="row-level security cannot guard"):
        PostgresPool(pg_server.admin_url)


def test_an_unreachable_database_is_one_sentence(pg_server: PostgresServer):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(StorageError, match="cannot reach its PostgreSQL database"):
        PostgresPool(f"postgresql://x:y@127.0.0.1:{port}/none?connect_timeout=2")


def test_the_database_urls_come_from_the_environment_and_stay_secret(tmp_path):
    from os1.config import load_config

    env = {
        "OS1_HOME": str(tmp_path),
        "OS1_DATABASE_URL": "postgresql://app:s3cret-app@db/os1",
        "OS1_DATABASE_OWNER_URL": "postgresql://owner:s3cret-owner@db/os1",
    }
    config = load_config(env)
    assert config.database_url == env["OS1_DATABASE_URL"]
    assert config.database_owner_url == env["OS1_DATABASE_OWNER_URL"]
    assert "s3cret" not in repr(config)
    assert load_config({"OS1_HOME": str(tmp_path)}).database_url is None


def test_values_are_data_not_sql_and_a_failed_statement_rolls_back(pg_urls: DatabaseUrls):
    pool = PostgresPool(pg_urls.app_url, owner_url=pg_urls.owner_url, min_size=1, max_size=1)
    try:
        db = PostgresDatabase(pool, "alice-id")
        s = db.execute(
            "INSERT INTO sessions (user_id, started_at) VALUES (?, ?)", ("alice-id", "t")
        )
        nasty = "x'); DROP TABLE messages; -- ? %s %% \\ \u00e9\U0001f600"
        m = db.execute(
            "INSERT INTO messages (user_id, session_id, role, content, created_at)"
            " VALUES (?, ?, 'user', ?, 't')",
            ("alice-id", s, nasty),
        )
        assert db.query("SELECT content FROM messages WHERE id = ?", (m,)) == [{"content": nasty}]
        with pytest.raises(psycopg.errors.CheckViolation):
            db.execute(
                "INSERT INTO messages (user_id, session_id, role, content, created_at)"
                " VALUES (?, ?, 'bogus', 'x', 't')",
                ("alice-id", s),
            )
        # The one pooled connection is clean again: usable, and set for nobody.
        assert len(db.query("SELECT * FROM messages")) == 1
        assert PostgresDatabase(pool).query("SELECT * FROM messages") == []
    finally:
        pool.close()
