"""Real voice engines, loaded once per test session (they are stateless; VAD is per use)."""

from __future__ import annotations

import pytest

from os1.voice.catalog import VoiceEngines, load_engines


@pytest.fixture(scope="session")
def engines() -> VoiceEngines:
    return load_engines("tiny")
