"""Audio values and conversions: mono float32 samples at a known rate, PCM16, WAV files.

Everything inside the voice layer is `Audio` (mono, float32 in [-1, 1], any rate); the edges
convert: `from_pcm16`/`to_pcm16` for wire bytes, `read_wav`/`write_wav` for files. Reading is
forgiving about what it can fix (stereo is mixed down, 8/24/32-bit and float WAVs are
converted, any rate is resampled by the caller with `resample`) and refuses what it cannot with
one clear sentence (`InputError`): a corrupt or non-WAV file never becomes a traceback.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from os1.errors import InputError, StorageError

Samples = npt.NDArray[np.float32]
STT_RATE = 16_000  # what the VAD and Whisper hear


@dataclass(frozen=True, slots=True, eq=False)
class Audio:
    samples: Samples
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate if self.rate else 0.0

    def at(self, rate: int) -> Audio:
        return self if rate == self.rate else Audio(resample(self.samples, self.rate, rate), rate)


def silence(seconds: float, rate: int = STT_RATE) -> Audio:
    return Audio(np.zeros(round(seconds * rate), dtype=np.float32), rate)


def concat(parts: list[Audio], rate: int) -> Audio:
    if not parts:
        return Audio(np.zeros(0, dtype=np.float32), rate)
    return Audio(np.concatenate([p.at(rate).samples for p in parts]).astype(np.float32), rate)


def resample(samples: Samples, src: int, dst: int) -> Samples:
    """Band-limited enough for speech: a short moving-average anti-alias filter when going
    down, then linear interpolation. Cheap (no scipy) and plenty for VAD/STT/playback."""
    if src == dst or len(samples) == 0:
        return samples.astype(np.float32, copy=False)
    x = samples.astype(np.float32, copy=False)
    if dst < src:
        width = max(1, round(src / dst))
        if width > 1:
            kernel = np.ones(width, dtype=np.float32) / width
            x = np.convolve(x, kernel, mode="same").astype(np.float32)
    n_out = max(1, round(len(x) * dst / src))
    positions = np.arange(n_out, dtype=np.float64) * (src / dst)
    return np.interp(positions, np.arange(len(x)), x).astype(np.float32)


def from_pcm16(data: bytes, rate: int = STT_RATE) -> Audio:
    usable = len(data) - len(data) % 2
    ints = np.frombuffer(data[:usable], dtype="<i2")
    return Audio((ints.astype(np.float32) / 32768.0), rate)


def to_pcm16(audio: Audio) -> bytes:
    clipped = np.clip(audio.samples, -1.0, 1.0)
    return (clipped * 32767.0).astype("<i2").tobytes()


def _decode(raw: bytes, width: int, fmt: int) -> Samples:
    if fmt == 3:  # IEEE float
        dtype = "<f4" if width == 4 else "<f8"
        return np.frombuffer(raw, dtype=dtype).astype(np.float32)
    if width == 1:
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    if width == 2:
        return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    if width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        ints = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
        return ints.astype(np.float32) / float(1 << 23)
    if width == 4:
        return np.frombuffer(raw, dtype="<i4").astype(np.float32) / float(1 << 31)
    raise InputError(f"That WAV file uses {width * 8}-bit samples, which I cannot read.")


def _wav_fields(data: bytes) -> tuple[int, int, int, int, bytes]:
    """(format, channels, rate, sample width, frames) of a RIFF/WAVE file; InputError if not."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise InputError("That file is not a WAV recording (I read 16-bit or float PCM WAVs).")
    pos, fmt, payload = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        body = data[pos + 8 : pos + 8 + size]
        if cid == b"fmt " and len(body) >= 16:
            fmt = body
        elif cid == b"data":
            payload = body  # a truncated file keeps what is there
            break
        pos += 8 + size + (size & 1)
    if fmt is None or payload is None:
        raise InputError("That WAV file is damaged (its header is incomplete).")
    tag = int.from_bytes(fmt[0:2], "little")
    if tag == 0xFFFE and len(fmt) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the subformat decides
        tag = int.from_bytes(fmt[24:26], "little")
    channels = int.from_bytes(fmt[2:4], "little")
    rate = int.from_bytes(fmt[4:8], "little")
    bits = int.from_bytes(fmt[14:16], "little")
    if tag not in (1, 3) or channels < 1 or not 1000 <= rate <= 768_000 or bits % 8:
        raise InputError("That WAV file is compressed or damaged; please send plain PCM audio.")
    return tag, channels, rate, bits // 8, payload


def decode_wav(data: bytes) -> Audio:
    tag, channels, rate, width, payload = _wav_fields(data)
    frame = width * channels
    payload = payload[: len(payload) - len(payload) % frame]
    samples = _decode(payload, width, tag)
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1).astype(np.float32)
    samples = np.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=-1.0)
    return Audio(np.clip(samples, -1.0, 1.0).astype(np.float32), rate)


def read_wav(path: Path) -> Audio:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"There is no audio file at {path}.") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a folder, not an audio file.") from None
    except OSError as e:
        raise InputError(f"The audio file {path} cannot be read ({e.strerror}).") from None
    return decode_wav(data)


def encode_wav(audio: Audio) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(audio.rate)
        w.writeframes(to_pcm16(audio))
    return buffer.getvalue()


def write_wav(path: Path, audio: Audio) -> None:
    """Write atomically (temporary name, then rename): a crash never leaves half a file."""
    tmp = path.with_name(path.name + ".part")
    try:
        tmp.write_bytes(encode_wav(audio))
        tmp.replace(path)
    except OSError as e:
        raise StorageError(f"I could not write the audio file {path} ({e.strerror}).") from None


__all__ = [
    "STT_RATE",
    "Audio",
    "Samples",
    "concat",
    "decode_wav",
    "encode_wav",
    "from_pcm16",
    "read_wav",
    "resample",
    "silence",
    "to_pcm16",
    "write_wav",
]
