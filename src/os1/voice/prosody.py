"""Simple prosody of one user utterance, kept with the turn for later intuition.

    energy_db       mean loudness of the voiced frames (dBFS; -100 for digital silence)
    pitch_hz        median fundamental frequency of voiced frames (autocorrelation, 60–400 Hz)
    pitch_range_hz  spread of the pitch (90th minus 10th percentile): flat vs lively
    speaking_rate   words per second over the voiced time
    voiced_seconds  how long the person actually spoke (pauses excluded)

Cheap (numpy only, a few ms a second of audio); values are None when they cannot be measured
(no voiced frames, no words). Stored in the `utterance_prosody` table (migration 0020), keyed
by the user's message id.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from os1.storage.database import utcnow
from os1.storage.user_store import UserStore
from os1.voice.audio import STT_RATE, Audio, Samples

_WINDOW = 640  # 40 ms at 16 kHz
_MIN_LAG, _MAX_LAG = STT_RATE // 400, STT_RATE // 60


@dataclass(frozen=True, slots=True)
class Prosody:
    energy_db: float
    pitch_hz: float | None
    pitch_range_hz: float | None
    speaking_rate: float | None
    voiced_seconds: float
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _pitch(frame: Samples) -> float | None:
    x = frame - frame.mean()
    ac = np.correlate(x, x, mode="full")[len(x) - 1 :]
    if ac[0] <= 0:
        return None
    segment = ac[_MIN_LAG:_MAX_LAG]
    lag = int(np.argmax(segment)) + _MIN_LAG
    if ac[lag] / ac[0] < 0.3:  # not periodic enough to be voiced
        return None
    return STT_RATE / lag


def measure(audio: Audio, transcript: str) -> Prosody:
    x = audio.at(STT_RATE).samples
    n = len(x) // _WINDOW
    if n == 0:
        return Prosody(-100.0, None, None, None, 0.0, audio.seconds)
    frames = x[: n * _WINDOW].reshape(n, _WINDOW)
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    floor = max(1e-4, float(np.percentile(rms, 20)) * 2.0)
    voiced = rms > max(floor, float(rms.max()) * 0.05)
    voiced_seconds = float(voiced.sum() * _WINDOW / STT_RATE)
    energy = float(20 * np.log10(max(1e-5, float(rms[voiced].mean())))) if voiced.any() else -100.0
    pitches = [p for f in frames[voiced] if (p := _pitch(f)) is not None]
    words = len(transcript.split())
    return Prosody(
        energy_db=round(energy, 1),
        pitch_hz=round(float(np.median(pitches)), 1) if pitches else None,
        pitch_range_hz=(
            round(float(np.percentile(pitches, 90) - np.percentile(pitches, 10)), 1)
            if len(pitches) >= 3
            else None
        ),
        speaking_rate=round(words / voiced_seconds, 2) if words and voiced_seconds > 0 else None,
        voiced_seconds=round(voiced_seconds, 2),
        seconds=round(audio.seconds, 2),
    )


def save(store: UserStore, message_id: int, prosody: Prosody) -> None:
    store.db.execute(
        "INSERT INTO utterance_prosody (user_id, message_id, energy_db, pitch_hz,"
        " pitch_range_hz, speaking_rate, voiced_seconds, seconds, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            store.user_id,
            message_id,
            prosody.energy_db,
            prosody.pitch_hz,
            prosody.pitch_range_hz,
            prosody.speaking_rate,
            prosody.voiced_seconds,
            prosody.seconds,
            utcnow(),
        ),
    )


def load(store: UserStore, message_id: int) -> Prosody | None:
    rows = store.db.query(
        "SELECT energy_db, pitch_hz, pitch_range_hz, speaking_rate, voiced_seconds, seconds"
        " FROM utterance_prosody WHERE user_id = ? AND message_id = ?",
        (store.user_id, message_id),
    )
    return Prosody(**rows[0]) if rows else None


__all__ = ["Prosody", "load", "measure", "save"]
