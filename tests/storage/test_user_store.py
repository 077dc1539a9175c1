from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from os1.errors import InputError, NotFound, StorageError
from os1.persona.identity import Identity
from os1.storage import Accounts


def test_pragmas_and_per_user_files(home: Path):
    accounts = Accounts(home)
    a = accounts.open_store(accounts.ensure_user("alice"))
    b = accounts.open_store(accounts.ensure_user("bob"))
    assert a.db.path != b.db.path  # type: ignore[attr-defined]
    mode = a.db.query("PRAGMA journal_mode")[0]["journal_mode"]
    sync = a.db.query("PRAGMA synchronous")[0]["synchronous"]
    assert (mode, sync) == ("wal", 2)  # 2 = FULL
    accounts.close()


def test_users_cannot_see_each_other(home: Path):
    accounts = Accounts(home)
    a = accounts.open_store(accounts.ensure_user("alice"))
    b = accounts.open_store(accounts.ensure_user("bob"))
    s = a.start_session()
    a.add_message(s, "user", "alice's secret canary-7f3a")
    assert b.messages() == []
    assert b.get_message(1) is None
    assert b.get_identity() == Identity()
    accounts.close()


def test_recover_marks_streaming_as_interrupted(home: Path):
    accounts = Accounts(home)
    store = accounts.open_store(accounts.ensure_user("alice"))
    s = store.start_session()
    m = store.add_message(s, "assistant", "half a rep", "streaming")
    assert store.recover() == 1
    assert store.get_message(m.id).status == "interrupted"  # type: ignore[union-attr]
    accounts.close()


def test_user_names_are_validated_and_unique(home: Path):
    accounts = Accounts(home)
    accounts.create_user("Alice")
    with pytest.raises(InputError):
        accounts.create_user("alice")
    with pytest.raises(InputError):
        accounts.create_user("a/b")
    with pytest.raises(NotFound):
        accounts.get_user("nobody")
    accounts.close()


def test_erase_user_removes_everything(home: Path):
    accounts = Accounts(home)
    user = accounts.ensure_user("alice")
    store = accounts.open_store(user)
    store.add_message(store.start_session(), "user", "canary-erase-123")
    accounts.erase_user(user)
    assert not accounts.user_dir(user).exists()
    assert [u.name for u in accounts.list_users()] == []
    accounts.close()


def test_migrations_are_recorded_once(home: Path):
    accounts = Accounts(home)
    store = accounts.open_store(accounts.ensure_user("alice"))
    names = [r["name"] for r in store.db.query("SELECT name FROM schema_migrations")]
    assert "0001_core.sql" in names and len(names) == len(set(names))
    accounts.close()
    accounts = Accounts(home)  # reopening applies nothing twice
    store = accounts.open_store(accounts.get_user("alice"))
    again = [r["name"] for r in store.db.query("SELECT name FROM schema_migrations")]
    assert again == names
    accounts.close()


def test_unwritable_data_dir_is_one_sentence(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StorageError) as e:
        Accounts(blocker / "home")
    assert "cannot create its data directory" in str(e.value)


def test_full_disk_is_one_sentence_and_loses_nothing(home: Path):
    accounts = Accounts(home)
    store = accounts.open_store(accounts.ensure_user("alice"))
    s = store.start_session()
    kept = store.add_message(s, "user", "this one is safe")
    pages = store.db.query("PRAGMA page_count")[0]["page_count"]
    # Cap the database at its current size: the next growth fails as SQLITE_FULL would.
    store.db.query(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(StorageError) as e:
        for _ in range(200):
            store.add_message(s, "user", "x" * 4000)
    assert "full" in str(e.value)
    assert store.get_message(kept.id).content == "this one is safe"  # type: ignore[union-attr]
    accounts.close()
    check = sqlite3.connect(store.db.path)  # type: ignore[attr-defined]
    assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    check.close()
