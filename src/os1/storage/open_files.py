"""A budget of open SQLite connections per process, least recently used closed first.

Every user has their own database file, and an open WAL database holds three file descriptors
(the file, its -wal and its -shm). A server with thousands of users would run out of
descriptors long before memory, so at most `limit` connections stay open: when one more is
needed, the least recently used idle ones are closed, and a closed database reopens by itself
on its next use (os1.storage.database.SqliteDatabase). A connection inside a transaction, or
in use on another thread at that moment, is never closed under its user; it is skipped and
closed later instead, so the budget may be exceeded briefly but never breaks a transaction.

The default limit is a sixth of the process's descriptor limit (RLIMIT_NOFILE, read when
first needed): half the descriptors for databases, half for sockets and everything else. A
server whose active users per process exceed it keeps reopening databases (each close
checkpoints the WAL): run enough workers that each one's active users fit its budget.
"""

from __future__ import annotations

import resource
import threading
from collections import OrderedDict
from typing import Protocol


class Closable(Protocol):
    def release(self) -> bool:
        """Close the connection now if it is idle; False when it is in use (keep it open)."""
        ...


def default_limit() -> int:
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(16, soft // 6)


class OpenFiles:
    def __init__(self, limit: int | None = None) -> None:
        self._limit = limit
        self._open: OrderedDict[Closable, None] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def limit(self) -> int:
        if self._limit is None:
            self._limit = default_limit()
        return self._limit

    def __len__(self) -> int:
        return len(self._open)

    def opened(self, db: Closable) -> None:
        """`db` has just been (re)opened or used: make it the most recent; close idle others
        while the budget is exceeded."""
        with self._lock:
            self._open[db] = None
            self._open.move_to_end(db)
            victims: list[Closable] = []
            over = len(self._open) - self.limit
            for victim in self._open:  # oldest first; `db` itself is last
                if len(victims) >= over or victim is db:
                    break
                victims.append(victim)
            for victim in victims:
                del self._open[victim]
        for victim in victims:  # outside our lock: a release waits for nothing but its own
            if not victim.release():
                with self._lock:  # busy right now: it stays open, as the most recent
                    self._open[victim] = None

    def closed(self, db: Closable) -> None:
        with self._lock:
            self._open.pop(db, None)


PROCESS_FILES = OpenFiles()  # the process's budget, shared by every SqliteDatabase

__all__ = ["PROCESS_FILES", "Closable", "OpenFiles", "default_limit"]
