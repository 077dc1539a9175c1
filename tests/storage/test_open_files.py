"""The open-file budget: idle user databases are closed and reopen by themselves; a database
in a transaction or in use is never closed under its user."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pytest

from os1.storage.database import SqliteDatabase
from os1.storage.open_files import OpenFiles


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _dbs(home: Path, files: OpenFiles, n: int) -> list[SqliteDatabase]:
    return [SqliteDatabase(home / f"u{i}" / "os1.db", "user", files) for i in range(n)]


def test_budget_closes_least_recently_used_and_reopens(home: Path):
    files = OpenFiles(limit=2)
    dbs = _dbs(home, files, 5)
    assert len(files) == 2
    for i, db in enumerate(dbs):
        db.execute(
            "INSERT INTO sessions (user_id, channel, started_at) VALUES (?, 'text', 'now')",
            (f"u{i}",),
        )
        assert len(files) == 2
    # every database kept its own rows, and is still usable after being closed for the budget
    for i, db in enumerate(dbs):
        assert db.query("SELECT user_id FROM sessions") == [{"user_id": f"u{i}"}]
        assert db.query("PRAGMA synchronous")[0]["synchronous"] == 2  # FULL again on reopen
    for db in dbs:
        db.close()
    assert len(files) == 0


def test_file_descriptors_stay_within_the_budget(home: Path):
    files = OpenFiles(limit=3)
    before = _open_fds()
    dbs = _dbs(home, files, 40)
    for db in dbs:
        db.query("SELECT count(*) FROM messages")
    assert _open_fds() - before <= 3 * 3  # file, -wal and -shm per open database
    for db in dbs:
        db.close()


def test_a_database_in_a_transaction_is_not_closed(home: Path):
    files = OpenFiles(limit=1)
    a, b = _dbs(home, files, 2)
    with a.transaction():
        a.execute("INSERT INTO sessions (user_id, channel, started_at) VALUES ('a', 't', 'n')")
        b.query("SELECT 1")  # needs room: `a` is busy, so the budget is exceeded for a while
        a.execute("INSERT INTO sessions (user_id, channel, started_at) VALUES ('a', 't', 'n')")
    assert a.query("SELECT count(*) AS n FROM sessions") == [{"n": 2}]
    b.query("SELECT 1")
    assert len(files) == 1


def test_a_database_in_use_on_another_thread_is_not_closed(home: Path):
    files = OpenFiles(limit=1)
    a, b = _dbs(home, files, 2)
    a.query("SELECT 1")  # `a` is the open one now
    held, go = threading.Event(), threading.Event()

    def hold() -> None:
        with a._lock:  # another thread is in the middle of a call on `a`
            held.set()
            go.wait(5)

    t = threading.Thread(target=hold)
    t.start()
    held.wait(5)
    b.query("SELECT 1")
    assert len(files) == 2  # `a` could not be closed, so it stayed open
    go.set()
    t.join()
    b.query("SELECT 1")
    assert len(files) == 1


def test_close_is_final(home: Path):
    (db,) = _dbs(home, OpenFiles(limit=4), 1)
    db.close()
    with pytest.raises(sqlite3.ProgrammingError):
        db.query("SELECT 1")
