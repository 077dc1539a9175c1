"""Kill os1 with SIGKILL at random points while it replies, many times: no acknowledged user
message may be lost and the database must pass PRAGMA integrity_check."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from os1.config import load_config
from os1.runtime import Runtime

pytestmark = pytest.mark.model
KILLS = 25


def test_sigkill_loses_no_acknowledged_message(home: Path):
    rng = random.Random(1234)
    acked: list[str] = []
    env = {**os.environ, "OS1_HOME": str(home)}
    for _ in range(KILLS):
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.durability_driver"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            text=True,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "READY"
        time.sleep(rng.uniform(0.05, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        out = proc.stdout.read()
        proc.stdout.close()
        acked += [line[4:] for line in out.splitlines() if line.startswith("ACK ")]
    assert len(acked) >= KILLS  # the test really exercised acknowledgements

    runtime = Runtime(load_config(), memory_factory=None)
    user = runtime.accounts.get_user("dura")
    db_path = runtime.accounts.user_dir(user) / "os1.db"
    runtime.close()
    db = sqlite3.connect(db_path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {r[0] for r in db.execute("SELECT content FROM messages WHERE role = 'user'")}
        lost = [a for a in acked if a not in stored]
        assert lost == []
        streaming = db.execute("SELECT count(*) FROM messages WHERE status = 'streaming'")
        left_streaming = streaming.fetchone()[0]
    finally:
        db.close()
    # The next start recovers replies a crash left streaming: they become interrupted.
    runtime = Runtime(load_config(), memory_factory=None, backend=_NoModel())
    ctx = runtime.context(runtime.accounts.get_user("dura"))
    statuses = {m.status for m in ctx.store.messages()}
    runtime.close()
    assert "streaming" not in statuses
    assert left_streaming >= 1 or "interrupted" in statuses


class _NoModel:
    name = "none"
    context_window = 1024
    supports_schema = False

    def count_tokens(self, text: str) -> int:
        return len(text)

    def stream(self, messages, options):  # type: ignore[no-untyped-def]
        raise AssertionError("not used")
