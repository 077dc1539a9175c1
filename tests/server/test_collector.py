"""A server process freezes its startup objects and spaces out full collections."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import gc
from os1.server.collector import FULL_AFTER, tune_for_server

before = gc.get_threshold()
tune_for_server()
young, middle, full = gc.get_threshold()
assert (young, middle) == before[:2] and full == FULL_AFTER > before[2], gc.get_threshold()
assert gc.get_freeze_count() > 1000, gc.get_freeze_count()
print("ok")
"""


def test_tune_for_server_in_its_own_process() -> None:
    # its own process: freezing is process-wide and must not touch the test runner's collector
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
