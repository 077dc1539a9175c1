"""`os1 talk --in/--out` end to end: a question spoken by our own TTS, answered aloud."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from os1.cli import main
from os1.config import Config
from os1.persona.identity import ONBOARDED, Identity
from os1.runtime import Runtime
from os1.voice import prosody
from os1.voice.audio import STT_RATE, Audio, read_wav, write_wav
from os1.voice.catalog import VoiceEngines


def onboard(config: Config, name: str) -> None:
    runtime = Runtime(config, backend=object(), memory_factory=None)  # type: ignore[arg-type]
    store = runtime.accounts.open_store(runtime.user(name))
    store.save_identity(
        Identity(os_name="Samantha", voice="iris", user_name="Ann", onboarding_step=ONBOARDED)
    )
    store.close()
    runtime.close()


@pytest.mark.model
def test_file_mode_end_to_end(
    config: Config, engines: VoiceEngines, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    onboard(config, "ann")
    question = engines.voices.tts("joe").synthesize("What is your favourite colour?")
    write_wav(tmp_path / "q.wav", question)
    rc = main(
        [
            "talk",
            "--in",
            str(tmp_path / "q.wav"),
            "--out",
            str(tmp_path / "a.wav"),
            "--user",
            "ann",
            "--model",
            "tiny",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0
    assert "you › What is your favo" in out and "Samantha › " in out
    answer = read_wav(tmp_path / "a.wav")
    assert answer.seconds > 0.3 and float(np.abs(answer.samples).max()) > 0.1
    runtime = Runtime(config, backend=object(), memory_factory=None)  # type: ignore[arg-type]
    store = runtime.accounts.open_store(runtime.user("ann"))
    user, reply = store.messages()[-2:]
    # Piper's speech varies from run to run and Whisper may mishear a word ("colour" as
    # "call"); what matters here is that what was heard is what was shown and stored.
    shown = next(line for line in out.splitlines() if line.startswith("you › "))
    assert user.role == "user" and shown == f"you › {user.content}"
    assert user.content.lower().startswith("what is your favo")
    assert reply.role == "assistant" and reply.status == "complete" and reply.content
    said = prosody.load(store, user.id)
    assert said is not None and said.speaking_rate is not None and said.pitch_hz is not None
    store.close()
    runtime.close()


@pytest.mark.parametrize(
    "content, expected",
    [(b"not audio", "not a WAV"), (b"RIFF\x10\x00\x00\x00WAVEjunkjunk", "damaged")],
)
def test_bad_files_get_one_sentence(
    config: Config,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: bytes,
    expected: str,
) -> None:
    (tmp_path / "q.wav").write_bytes(content)
    rc = main(["talk", "--in", str(tmp_path / "q.wav"), "--out", str(tmp_path / "a.wav")])
    err = capsys.readouterr().err
    assert rc == 1 and expected in err and "Traceback" not in err
    assert not (tmp_path / "a.wav").exists()


def test_a_ten_minute_recording_is_refused_clearly(
    config: Config, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    long = Audio(np.zeros(STT_RATE * 600, np.float32), STT_RATE)
    write_wav(tmp_path / "long.wav", long)
    rc = main(["talk", "--in", str(tmp_path / "long.wav"), "--out", str(tmp_path / "a.wav")])
    err = capsys.readouterr().err
    assert rc == 1 and "10:00 long" in err and "nothing was saved" in err


def test_in_without_out_is_a_clear_error(config: Config, capsys: pytest.CaptureFixture[str]):
    assert main(["talk", "--in", "q.wav"]) == 1
    assert "--out" in capsys.readouterr().err
