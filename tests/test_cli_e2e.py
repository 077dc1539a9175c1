"""The `os1` command in a pseudo-terminal, on the real tiny model: the first meeting, two
turns, Ctrl-C stopping a reply (not the program), Ctrl-D leaving, and no second meeting."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pexpect
import pytest

pytestmark = pytest.mark.model
OS1 = [sys.executable, "-m", "os1"]
PROMPT = "you › "


def spawn(home: Path, *args: str) -> pexpect.spawn:
    env = {**os.environ, "OS1_HOME": str(home), "OS1_MODEL": "tiny", "PYTHONUNBUFFERED": "1"}
    child = pexpect.spawn(
        OS1[0], [*OS1[1:], *args], env=env, encoding="utf-8", timeout=90, dimensions=(40, 200)
    )
    return child


def exit_status(child: pexpect.spawn, timeout: float = 30.0) -> int | None:
    """Wait (bounded) for the process to exit by itself; close() alone would kill it."""
    deadline = time.monotonic() + timeout
    while child.isalive() and time.monotonic() < deadline:
        time.sleep(0.05)
    child.close()
    return child.exitstatus


def os1(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OS1_HOME": str(home), "OS1_MODEL": "tiny"}
    return subprocess.run([*OS1, *args], env=env, capture_output=True, text=True, timeout=120)


def set_reply_tokens(home: Path, tokens: int) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(f"max_reply_tokens = {tokens}\nn_ctx = 2048\n")


def test_first_meeting_then_two_turns_in_a_terminal(home: Path):
    set_reply_tokens(home, 40)  # short replies keep the test quick on a busy machine
    child = spawn(home, "--user", "theo")
    child.expect("I'm an AI")
    child.expect("what should I call you")
    for answer, expected in [
        ("I'm Theodore", "Which would you like"),
        ("the second one", "What fills your days"),
        ("I write letters for other people", "Who are the people"),
        ("My sister Anna", "what could I help you with"),
        ("Keep me company", "I'd like to be called"),
    ]:
        child.expect_exact(PROMPT)
        child.sendline(answer)
        child.expect(expected)
    for line in ["How are you today?", "Tell me about the sea."]:
        child.expect_exact(PROMPT)
        child.sendline(line)
    child.expect_exact(PROMPT)
    child.sendeof()
    child.expect(pexpect.EOF)
    assert exit_status(child) == 0

    ident = json.loads(os1(home, "identity", "--user", "theo", "--json").stdout)
    assert ident["onboarded"] and ident["user_name"] == "Theodore" and ident["voice"] == "iris"
    history = json.loads(os1(home, "history", "--user", "theo", "--json").stdout)
    users = [m["content"] for m in history if m["role"] == "user"]
    assert users[-2:] == ["How are you today?", "Tell me about the sea."]
    assert history[-1]["role"] == "assistant" and history[-1]["status"] == "complete"

    # a second run does not meet again; Ctrl-C stops a reply and the program carries on
    set_reply_tokens(home, 300)  # a reply long enough to interrupt
    child = spawn(home, "--user", "theo")
    child.expect(f"{ident['os_name']} is here")
    child.expect_exact(PROMPT)
    child.sendline("Write me a very long story about the ocean, with many chapters.")
    child.expect(f"{ident['os_name']} › ")
    child.expect(r"\w+ \w+")  # some words streamed
    child.kill(signal.SIGINT)
    child.expect(r"\(stopped\)")
    child.expect_exact(PROMPT)
    child.sendline("Please go on with the story, chapter after chapter.")
    child.expect(f"{ident['os_name']} › ")
    child.kill(signal.SIGINT)  # the program keeps going after a second interruption too
    child.expect_exact(PROMPT)
    child.sendeof()
    child.expect(pexpect.EOF)
    assert exit_status(child) == 0
    history = json.loads(os1(home, "history", "--user", "theo", "--json").stdout)
    statuses = [(m["role"], m["status"]) for m in history[-4:]]
    assert statuses[:3] == [
        ("user", "complete"),
        ("assistant", "interrupted"),
        ("user", "complete"),
    ]
    assert statuses[3][0] == "assistant" and statuses[3][1] in ("interrupted", "complete")


def test_bad_model_and_backend_are_one_sentence(home: Path, tmp_path: Path):
    missing = os1(home, "--model", str(tmp_path / "nope.gguf"))
    assert missing.returncode == 1
    errors = [line for line in missing.stderr.splitlines() if line.startswith("os1:")]
    assert errors == [line for line in errors if line.startswith("os1: The model file")] != []
    assert "Traceback" not in missing.stderr
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(os.urandom(4096))
    bad = os1(home, "--model", str(junk))
    assert bad.returncode == 1 and "not a GGUF model" in bad.stderr
    assert len([line for line in bad.stderr.splitlines() if line.startswith("os1:")]) == 1
    unknown = os1(home, "--model", "enormous")
    assert unknown.returncode == 1 and "neither a model profile" in unknown.stderr


def test_unreachable_backend_is_one_sentence_and_keeps_the_message(home: Path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        env = {**os.environ, "OS1_HOME": str(home)}
        # skip the first meeting: it would also need the model
        from os1.config import load_config
        from os1.persona.identity import ONBOARDED, Identity
        from os1.storage import Accounts

        accounts = Accounts(load_config({"OS1_HOME": str(home)}).home)
        store = accounts.open_store(accounts.ensure_user("theo"))
        store.save_identity(Identity("Iris", "joe", "Theo", ONBOARDED))
        accounts.close()
        done = subprocess.run(
            [*OS1, "--user", "theo", "--backend", f"http://127.0.0.1:{port}"],
            input="hello there\n",
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0
    assert f"os1: The model server at http://127.0.0.1:{port}/v1 is unreachable." in done.stderr
    assert "Traceback" not in done.stderr
    history = json.loads(os1(home, "history", "--user", "theo", "--json").stdout)
    assert [m["content"] for m in history if m["role"] == "user"] == ["hello there"]


def test_doctor_and_models_commands(home: Path):
    doctor = os1(home, "doctor")
    assert "The tiny model is verified" in doctor.stdout
    assert "is writable" in doctor.stdout
    models = os1(home, "models")
    assert models.returncode == 0 and "tiny" in models.stdout and "*" in models.stdout


def _onboard(home: Path, name: str) -> None:
    from os1.config import load_config
    from os1.persona.identity import ONBOARDED, Identity
    from os1.storage import Accounts

    accounts = Accounts(load_config({"OS1_HOME": str(home)}).home)
    store = accounts.open_store(accounts.ensure_user(name))
    store.save_identity(Identity("Iris", "joe", name.capitalize(), ONBOARDED))
    accounts.close()


def test_huge_paste_and_binary_junk_are_one_sentence_each(home: Path):
    _onboard(home, "theo")
    junk = "".join(chr(c) for c in range(0, 32) if c not in (10, 13)) * 20
    lines = ["first message", "x" * 1_048_576, junk, "", "last message"]
    done = subprocess.run(
        [*OS1, "--user", "theo"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OS1_HOME": str(home), "OS1_MODEL": "tiny"},
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("os1:")]
    assert len(errors) == 3
    assert "1,048,576 characters" in errors[0]
    assert "binary" in errors[1] or "no readable text" in errors[1]
    assert "empty" in errors[2]
    history = json.loads(os1(home, "history", "--user", "theo", "--json").stdout)
    assert [m["content"] for m in history if m["role"] == "user"] == [
        "first message",
        "last message",
    ]


def test_unwritable_data_directory_is_one_sentence(tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    done = subprocess.run(
        [*OS1, "--model", "tiny"],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "OS1_HOME": str(blocker / "os1")},
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"os1: os1 cannot create its data directory {blocker / 'os1'} (Not a directory)."
    ]
