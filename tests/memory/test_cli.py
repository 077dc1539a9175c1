from __future__ import annotations

from pathlib import Path

import pytest

from os1.cli import main
from os1.context import TurnContext
from os1.memory import LongTermMemory
from os1.testing import ScriptedBackend
from tests.memory.test_memory import chat


async def test_memory_commands(
    home: Path,
    ctx: TurnContext,
    backend: ScriptedBackend,
    memory: LongTermMemory,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    await chat(ctx, backend, "My sister is called Maria.")
    assert main(["memory", "--user", "alice", "list"]) == 0
    out = capsys.readouterr().out
    assert "Alice's sister is called Maria." in out
    fact_id = int(out.split()[0].lstrip("#"))
    assert main(["memory", "--user", "alice", "show", str(fact_id)]) == 0
    assert "from message #1" in capsys.readouterr().out
    assert main(["memory", "--user", "alice", "export", "--out", str(tmp_path / "m.jsonl")]) == 0
    assert '"derived": true' in (tmp_path / "m.jsonl").read_text()
    assert main(["memory", "--user", "alice", "forget", "--about", "Maria"]) == 0
    assert main(["memory", "--user", "alice", "show", str(fact_id)]) == 1
    assert "There is no memory" in capsys.readouterr().err
    assert main(["memory", "--user", "alice", "erase"]) == 1
    assert main(["memory", "--user", "alice", "erase", "--yes"]) == 0
