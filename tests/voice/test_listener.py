"""The listener on the real Silero VAD: a one-word answer is heard, a click is not."""

from __future__ import annotations

import numpy as np
import pytest

from os1.voice.audio import STT_RATE
from os1.voice.catalog import VoiceEngines
from os1.voice.engines import FRAME
from os1.voice.listener import Endpoint, Listener, Onset, Pause
from os1.voice.testing import EnergyVad, tone


def events(engines: VoiceEngines, samples: np.ndarray) -> list[type]:
    """What a fresh listener makes of these samples (pauses left out)."""
    listener = Listener(engines.vad())
    out: list[type] = []
    for i in range(0, len(samples) - FRAME + 1, FRAME):
        out += [type(e) for e in listener.push(samples[i : i + FRAME]) if type(e) is not Pause]
    return out


def said_quickly(engines: VoiceEngines, text: str, speed: float) -> np.ndarray:
    """`text` in Joe's voice, trimmed to its last loud sample and sped up `speed` times (as a
    quick one-word answer is said)."""
    x = engines.voices.tts("joe").synthesize(text).at(STT_RATE).samples
    x = x[: np.nonzero(np.abs(x) > 0.02)[0][-1] + 1]
    n = int(len(x) / speed)
    return np.interp(np.linspace(0, len(x) - 1, n), np.arange(len(x)), x).astype(np.float32)


@pytest.mark.parametrize("word, speed", [("Hi.", 1.35), ("Hey.", 1.4), ("No.", 1.7)])
def test_a_quick_one_word_answer_starts_an_utterance_at_any_frame_phase(
    engines: VoiceEngines, word: str, speed: float
) -> None:
    """Silero's probability climbs over a word's first frames: counting only the frames past
    the start threshold missed such words (about 1 "Hi." in 3 at Joe's own pace), and they
    were never answered."""
    x = said_quickly(engines, word, speed)
    assert len(x) < 0.23 * STT_RATE
    for phase in range(0, FRAME, FRAME // 8):
        stream = np.concatenate([np.zeros(STT_RATE + phase), x, np.zeros(STT_RATE)])
        assert events(engines, stream.astype(np.float32)) == [Onset, Endpoint], (word, phase)


def test_a_click_or_a_short_burst_of_noise_starts_nothing(engines: VoiceEngines) -> None:
    rng = np.random.default_rng(1)
    burst = (rng.standard_normal(FRAME * 2) * 0.3).astype(np.float32)  # 64 ms
    click = np.zeros(FRAME, np.float32)
    click[:40] = 0.9
    quiet = np.zeros(STT_RATE, np.float32)
    assert events(engines, np.concatenate([quiet, burst, quiet, click, quiet])) == []


def _push(listener: Listener, frames: int, *, loud: bool) -> list[type]:
    """Push `frames` frames of a tone (or of silence); the types of the events."""
    samples = tone(frames * FRAME / STT_RATE).samples if loud else np.zeros(frames * FRAME)
    out: list[type] = []
    for i in range(frames):
        out += [type(e) for e in listener.push(samples[i * FRAME : (i + 1) * FRAME])]
    return out


def test_a_finished_guess_ends_the_pause_192_ms_in_and_only_that_pause() -> None:
    """The guess starts 64 ms (2 frames) into a pause; when it sounds finished the utterance
    ends once the pause is 192 ms (6 frames) long, not at once: a question can go on after a
    short pause. That decision is void once the person goes on."""
    listener = Listener(EnergyVad())
    assert _push(listener, 30, loud=True) == [Onset]
    assert _push(listener, 2, loud=False) == [Pause]
    assert listener.end_now() is None  # 64 ms into the pause: not yet ...
    assert _push(listener, 3, loud=False) == []
    assert _push(listener, 1, loud=False) == [Endpoint]  # ... but at 192 ms

    assert _push(listener, 30, loud=True) == [Onset]
    assert _push(listener, 2, loud=False) == [Pause]
    assert listener.end_now() is None
    assert _push(listener, 10, loud=True) == []  # the person goes on
    assert _push(listener, 8, loud=False) == [Pause]  # 256 ms: the plain 280 ms hangover ...
    assert _push(listener, 1, loud=False) == [Endpoint]  # ... ends it
