"""Real voice engines, loaded once per test session (they are stateless; VAD is per use)."""

from __future__ import annotations

import pytest

from os1.voice.catalog import VoiceCatalog, VoiceEngines, load_engines


@pytest.fixture(scope="session")
def engines() -> VoiceEngines:
    """Piper without its random variation: the same fixture audio, the same transcript, on
    every run."""
    return load_engines("tiny", voices=VoiceCatalog(noise=False))
