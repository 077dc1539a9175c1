"""The local microphone and speaker, through sounddevice (PortAudio), behind an import guard.

`open_local_audio(on_input)` starts 16 kHz mono capture in 32 ms blocks, handing PCM16 bytes to
`on_input` on PortAudio's thread (the caller hops to its event loop), and returns a `Speaker`
whose buffer `stop()` empties at once: barge-in silences playback within one output block
(~20 ms), well inside the 100 ms budget. Without sounddevice, PortAudio or a device,
`AudioUnavailable` says so in one sentence.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from os1.errors import UserError
from os1.voice.audio import STT_RATE, from_pcm16
from os1.voice.engines import FRAME


class AudioUnavailable(UserError):
    """No usable microphone or speaker here."""


_NO_DEVICE = (
    "No microphone and speaker are available here; try "
    "`os1 talk --in question.wav --out answer.wav` instead."
)


def _sounddevice() -> Any:
    try:
        import sounddevice
    except ImportError:
        raise AudioUnavailable(
            "Live talk needs the audio extra: pip install 'os1[audio]' (and PortAudio, e.g. "
            "apt-get install libportaudio2); or use `os1 talk --in q.wav --out a.wav`."
        ) from None
    except OSError:  # the module is there, the PortAudio library is not
        raise AudioUnavailable(_NO_DEVICE) from None
    return sounddevice


class Speaker:
    def __init__(self, sd: Any, rate: int) -> None:
        self.rate = rate
        self._buffer: deque[np.ndarray[Any, np.dtype[np.float32]]] = deque()
        self._lock = threading.Lock()
        self._stream = sd.OutputStream(
            samplerate=rate, channels=1, dtype="float32", blocksize=441, callback=self._fill
        )
        self._stream.start()

    def _fill(self, out: Any, frames: int, _time: Any, _status: Any) -> None:
        out.fill(0)
        filled = 0
        with self._lock:
            while filled < frames and self._buffer:
                head = self._buffer[0]
                take = min(frames - filled, len(head))
                out[filled : filled + take, 0] = head[:take]
                filled += take
                if take == len(head):
                    self._buffer.popleft()
                else:
                    self._buffer[0] = head[take:]

    def play(self, pcm16: bytes, rate: int) -> None:
        audio = from_pcm16(pcm16, rate).at(self.rate)
        with self._lock:
            self._buffer.append(audio.samples)

    def stop(self) -> None:
        with self._lock:
            self._buffer.clear()

    def close(self) -> None:
        self._stream.stop()
        self._stream.close()


class LocalAudio:
    def __init__(self, on_input: Callable[[bytes], None], output_rate: int) -> None:
        sd = _sounddevice()
        try:
            sd.check_input_settings(samplerate=STT_RATE, channels=1, dtype="int16")
            sd.check_output_settings(samplerate=output_rate, channels=1, dtype="float32")
            self.speaker = Speaker(sd, output_rate)
            self._mic = sd.RawInputStream(
                samplerate=STT_RATE,
                channels=1,
                dtype="int16",
                blocksize=FRAME,
                callback=lambda data, _n, _t, _s: on_input(bytes(data)),
            )
            self._mic.start()
        except Exception as e:  # PortAudioError and ValueError: no such device
            if isinstance(e, UserError):
                raise
            raise AudioUnavailable(_NO_DEVICE) from None

    def close(self) -> None:
        self._mic.stop()
        self._mic.close()
        self.speaker.close()


__all__ = ["AudioUnavailable", "LocalAudio", "Speaker"]
