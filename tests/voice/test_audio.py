"""Audio values and the forgiving WAV reader: every bad file is one sentence, never a crash."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from os1.errors import InputError
from os1.voice.audio import (
    STT_RATE,
    Audio,
    decode_wav,
    encode_wav,
    from_pcm16,
    read_wav,
    resample,
    to_pcm16,
    write_wav,
)
from os1.voice.testing import tone


def test_wav_round_trip_and_resample(tmp_path: Path) -> None:
    audio = tone(0.5, rate=22_050)
    write_wav(tmp_path / "a.wav", audio)
    back = read_wav(tmp_path / "a.wav")
    assert back.rate == 22_050 and len(back.samples) == len(audio.samples)
    assert np.max(np.abs(back.samples - audio.samples)) < 1e-3
    down = back.at(STT_RATE)
    assert abs(down.seconds - 0.5) < 0.01
    spectrum = np.abs(np.fft.rfft(down.samples))
    assert abs(np.argmax(spectrum) * STT_RATE / len(down.samples) - 220) < 5


def _wav(channels: int, rate: int, bits: int, payload: bytes, tag: int = 1) -> bytes:
    fmt = struct.pack(
        "<HHIIHH", tag, channels, rate, rate * channels * bits // 8, channels * bits // 8, bits
    )
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_stereo_float_and_8_bit_are_read() -> None:
    left = np.full(100, 0.5, np.float32)
    stereo = np.stack([left, -left], axis=1).astype("<f4").tobytes()
    assert np.allclose(decode_wav(_wav(2, 44_100, 32, stereo, tag=3)).samples, 0.0)
    eight = decode_wav(_wav(1, 8000, 8, bytes([128, 255, 0])))
    assert eight.rate == 8000 and eight.samples[0] == 0.0 and eight.samples[2] == -1.0


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, not a wav at all",
        b"RIFF\x00\x00\x00\x00WAVEfmt ",
        _wav(1, 16000, 16, b"")[:30],
        _wav(1, 16000, 16, b"\x00" * 10, tag=85),
    ],
    ids=["empty", "text", "truncated-header", "short", "mp3-in-wav"],
)
def test_bad_files_are_one_clear_sentence(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "bad.wav"
    path.write_bytes(data)
    with pytest.raises(InputError) as e:
        read_wav(path)
    assert e.value.sentence.endswith(".") and "\n" not in e.value.sentence


def test_missing_file_and_truncated_payload(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        read_wav(tmp_path / "nope.wav")
    data = encode_wav(tone(1.0))
    assert 0.4 < decode_wav(data[: len(data) // 2]).seconds < 0.6  # keeps what is there


def test_pcm16_tolerates_odd_bytes_and_clipping() -> None:
    assert len(from_pcm16(b"\x00\x01\x02").samples) == 1
    loud = Audio(np.array([2.0, -2.0], np.float32), STT_RATE)
    assert from_pcm16(to_pcm16(loud)).samples.tolist() == pytest.approx([1.0, -1.0], abs=1e-3)
    assert len(resample(np.zeros(0, np.float32), 8000, 16000)) == 0
