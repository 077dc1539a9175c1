"""espeak-ng, called as a program (it is GPL; we never link it): phonemes and the light voices.

`phonemize` gives IPA for Piper; `EspeakTts` speaks directly with an espeak voice such as
`en-us+f3` (female) or `en-us+m3`: robotic but clear and nearly free (RTF ~0.004). Text goes
in on stdin, never on the command line, so no text can be read as an option.
"""

from __future__ import annotations

import shutil
import subprocess

from os1.errors import ModelFileError
from os1.voice.audio import Audio, decode_wav

_MISSING = "The espeak-ng program is not installed; run `make run` (it installs espeak-ng)."


def _run(args: list[str], text: str) -> bytes:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise ModelFileError(_MISSING)
    try:
        done = subprocess.run(
            [exe, *args], input=text.encode("utf-8"), capture_output=True, timeout=60, check=True
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as e:
        raise ModelFileError(f"espeak-ng failed ({str(e)[:100]}).") from None
    return done.stdout


def phonemize(text: str, voice: str = "en-us") -> str:
    """IPA phonemes for `text` (espeak's clause breaks become spaces)."""
    out = _run(["-q", "--ipa", "-v", voice], text).decode("utf-8", "replace")
    return " ".join(line.strip() for line in out.splitlines() if line.strip())


class EspeakTts:
    def __init__(self, voice: str = "en-us+f3", *, words_per_minute: int = 175) -> None:
        if shutil.which("espeak-ng") is None:
            raise ModelFileError(_MISSING)
        self.voice = voice
        self.words_per_minute = words_per_minute

    def synthesize(self, text: str) -> Audio:
        return decode_wav(
            _run(["-v", self.voice, "-s", str(self.words_per_minute), "--stdout"], text)
        )


__all__ = ["EspeakTts", "phonemize"]
