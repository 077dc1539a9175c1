"""The core store behaviour, on both engines: SQLite files and PostgreSQL (row-level security).

Every test here runs twice through the `accounts` fixture (tests/storage/conftest.py)."""

from __future__ import annotations

import psycopg
import pytest

from os1.config import Config
from os1.errors import InputError, NotFound
from os1.persona.identity import Identity
from os1.runtime import Runtime
from os1.storage import Accounts
from os1.testing import ScriptedBackend
from tests.helpers import drain, text_of
from tests.pg import DatabaseUrls


def test_messages_round_trip_in_order(accounts: Accounts):
    store = accounts.open_store(accounts.ensure_user("alice"))
    s1, s2 = store.start_session(), store.start_session("voice")
    assert s1 != s2
    first = store.add_message(s1, "user", "100% sure? 'quoted' \"double\"", meta={"k": 1})
    reply = store.add_message(s1, "assistant", "streaming…", "streaming")
    other = store.add_message(s2, "user", "in the voice session")
    assert first.id < reply.id < other.id
    store.update_message(reply.id, "done", "complete", {"tokens": 3})
    got = store.get_message(reply.id)
    assert got is not None and (got.content, got.status, got.meta) == (
        "done",
        "complete",
        {"tokens": 3},
    )
    assert [m.content for m in store.messages()] == [first.content, "done", other.content]
    assert [m.id for m in store.messages(limit=2)] == [reply.id, other.id]
    assert [m.id for m in store.messages(session_id=s1)] == [first.id, reply.id]
    assert store.get_message(first.id).meta == {"k": 1}  # type: ignore[union-attr]


def test_a_turns_reads_and_its_two_rows_go_together(accounts: Accounts):
    store = accounts.open_store(accounts.ensure_user("alice"))
    other = accounts.open_store(accounts.ensure_user("bob"))
    other.add_message(other.start_session(), "user", "bob's words")
    assert store.turn_state(limit=10) == (Identity(), [])
    store.save_identity(Identity(os_name="Samantha", user_name="Alice"), "named")
    session = store.start_session()
    earlier = store.add_message(session, "user", "first")
    said, row = store.add_messages(
        session,
        [("user", "50% of 'it'; DROP TABLE messages", "complete"), ("assistant", "", "streaming")],
    )
    assert earlier.id < said.id < row.id and (said.role, row.status) == ("user", "streaming")
    identity, history = store.turn_state(limit=2)
    assert identity.os_name == "Samantha"
    assert history == [said, row]  # the newest two, oldest first, exactly as stored
    assert [m.content for m in store.turn_state(limit=10)[1]] == [
        "first",
        "50% of 'it'; DROP TABLE messages",
        "",
    ]
    with store.transaction():  # inside a transaction they join it
        assert store.turn_state(limit=1)[1] == [row]
        store.add_messages(session, [("user", "joined", "complete")])
    assert store.messages(limit=1)[0].content == "joined"


def test_users_cannot_see_each_other(accounts: Accounts):
    a = accounts.open_store(accounts.ensure_user("alice"))
    b = accounts.open_store(accounts.ensure_user("bob"))
    mine = a.add_message(a.start_session(), "user", "alice's secret canary-7f3a")
    a.save_identity(Identity(os_name="Samantha", user_name="Alice"), "named")
    assert b.messages() == []
    assert b.get_message(mine.id) is None
    b.update_message(mine.id, "overwritten by bob", "complete")
    assert a.get_message(mine.id).content == "alice's secret canary-7f3a"  # type: ignore[union-attr]
    assert b.get_identity() == Identity()
    assert b.identity_history() == []
    assert b.recover() == 0


def test_recover_marks_streaming_as_interrupted(accounts: Accounts):
    store = accounts.open_store(accounts.ensure_user("alice"))
    m = store.add_message(store.start_session(), "assistant", "half a rep", "streaming")
    assert store.recover() == 1
    assert store.get_message(m.id).status == "interrupted"  # type: ignore[union-attr]


def test_identity_and_its_history(accounts: Accounts):
    store = accounts.open_store(accounts.ensure_user("alice"))
    store.save_identity(Identity(os_name="Samantha", voice="joe"), "first meeting")
    store.save_identity(Identity(os_name="Sam", voice="joe", onboarding_step="done"), "renamed")
    assert store.get_identity().os_name == "Sam"
    history = [(h["field"], h["old_value"], h["new_value"]) for h in store.identity_history()]
    assert history == [
        ("os_name", None, "Samantha"),
        ("voice", None, "joe"),
        ("os_name", "Samantha", "Sam"),
    ]


def test_user_names_are_validated_and_unique(accounts: Accounts):
    alice = accounts.create_user("Alice")
    with pytest.raises(InputError):
        accounts.create_user("alice")
    assert accounts.get_user("ALICE") == alice
    assert accounts.get_user_by_id(alice.id) == alice
    with pytest.raises(NotFound):
        accounts.get_user("nobody")
    assert [u.name for u in accounts.list_users()] == ["Alice"]


def test_erase_user_removes_their_rows_only(accounts: Accounts):
    alice, bob = accounts.ensure_user("alice"), accounts.ensure_user("bob")
    a, b = accounts.open_store(alice), accounts.open_store(bob)
    a.add_message(a.start_session(), "user", "canary-erase-123")
    a.save_identity(Identity(os_name="Samantha"), "named")
    kept = b.add_message(b.start_session(), "user", "bob stays")
    accounts.erase_user(alice)
    assert [u.name for u in accounts.list_users()] == ["bob"]
    again = accounts.open_store(accounts.ensure_user("alice"))
    assert again.messages() == [] and again.get_identity() == Identity()
    assert accounts.open_store(bob).get_message(kept.id) is not None


def test_erase_on_postgres_leaves_no_row_anywhere(pg_config: Config, pg_urls: DatabaseUrls):
    accounts = Accounts.open(pg_config)
    alice = accounts.ensure_user("alice")
    store = accounts.open_store(alice)
    store.add_message(store.start_session(), "user", "canary-erase-456")
    store.save_identity(Identity(os_name="Samantha"), "named")
    accounts.erase_user(alice)
    accounts.close()
    # The owner is bound by the FORCED policies too; set it to alice to count what is left.
    with psycopg.connect(pg_urls.owner_url, autocommit=True) as conn, conn.transaction():
        conn.execute("SELECT set_config('app.user_id', %s, true)", (alice.id,))
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.columns"
                " WHERE table_schema = 'public' AND column_name = 'user_id'"
            )
        ]
        assert {"messages", "sessions", "identity", "identity_history", "passwords"} <= set(tables)
        for table in tables:
            n = conn.execute(f"SELECT count(*) FROM {table} WHERE user_id = %s", (alice.id,))
            assert n.fetchone() == (0,), table
        assert conn.execute("SELECT count(*) FROM users").fetchone() == (0,)


async def test_a_conversation_turn_on_either_engine(engine_config: Config):
    backend = ScriptedBackend(["Hello there, Alice."])
    runtime = Runtime(engine_config, backend=backend, memory_factory=None)
    try:
        ctx = runtime.context(runtime.user("alice"))
        ctx.store.save_identity(
            Identity(os_name="Samantha", user_name="Alice", onboarding_step="done")
        )
        from os1.conversation import run_turn

        events = await drain(run_turn(ctx, "hi"))
        assert text_of(events) == "Hello there, Alice."
        stored = [(m.role, m.content, m.status) for m in ctx.store.messages()]
        assert stored == [
            ("user", "hi", "complete"),
            ("assistant", "Hello there, Alice.", "complete"),
        ]
        backend.assert_done()
    finally:
        runtime.close()
