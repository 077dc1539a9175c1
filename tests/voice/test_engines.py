"""The real engines: Piper and espeak speak, Whisper hears them back, Silero finds speech."""

from __future__ import annotations

import numpy as np
import pytest

from os1.voice.audio import STT_RATE, Audio, concat, silence
from os1.voice.catalog import VoiceEngines
from os1.voice.engines import FRAME

SENTENCES = [
    "Good morning, how did you sleep last night?",
    "I would love to hear about your new book.",
    "Remember to call your sister on Sunday.",
    "The weather is lovely today, let us go for a walk.",
]


def wer(reference: str, hypothesis: str) -> float:
    ref = [w.strip(".,?!").lower() for w in reference.split()]
    hyp = [w.strip(".,?!").lower() for w in hypothesis.split()]
    d = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, d[0] = d[0], i
        for j, h in enumerate(hyp, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (r != h))
    return d[len(hyp)] / max(1, len(ref))


@pytest.mark.parametrize("voice, limit", [("joe", 0.10), ("iris", 0.25)])
def test_round_trip_word_error_rate(engines: VoiceEngines, voice: str, limit: float) -> None:
    tts = engines.voices.tts(voice)
    errors = [wer(s, engines.stt.transcribe(tts.synthesize(s).at(STT_RATE))) for s in SENTENCES]
    assert sum(errors) / len(errors) <= limit, errors


def test_silero_hears_speech_not_silence_or_noise(engines: VoiceEngines) -> None:
    speech = engines.voices.tts("joe").synthesize("Hello, can you hear me?").at(STT_RATE)
    rng = np.random.default_rng(0)
    noise = Audio((rng.standard_normal(STT_RATE) * 0.05).astype(np.float32), STT_RATE)

    def voiced_fraction(audio: Audio) -> float:
        vad = engines.vad()
        x = audio.samples
        probs = [vad.speech_probability(x[i : i + FRAME]) for i in range(0, len(x) - FRAME, FRAME)]
        return float(np.mean(np.array(probs) > 0.5))

    assert voiced_fraction(speech) > 0.5
    assert voiced_fraction(concat([silence(1.0), noise], STT_RATE)) < 0.1


def test_whisper_hears_nothing_in_silence(engines: VoiceEngines) -> None:
    assert engines.stt.transcribe(silence(1.5)) == ""


def test_unknown_voice_and_user_piper_voice_paths(engines: VoiceEngines, tmp_path) -> None:
    from os1.errors import ModelFileError

    with pytest.raises(ModelFileError):
        engines.voices.tts("nobody")
    with pytest.raises(ModelFileError):
        engines.voices.tts(str(tmp_path / "mine.onnx"))


def test_the_short_window_is_filled_with_silence_as_whisper_hears_it(
    engines: VoiceEngines,
) -> None:
    """The short encoder window is padded with what the feature extractor makes of digital
    silence after the speech (zeros, a loud sound in that scale, cost one-word utterances)."""
    from faster_whisper.feature_extractor import FeatureExtractor

    from os1.voice.whisper import in_window

    extract = FeatureExtractor()
    speech = engines.voices.tts("joe").synthesize("Hi.").at(STT_RATE).samples
    alone = extract(speech)[:, :-1]
    padded = extract(np.concatenate([speech, np.zeros(STT_RATE, np.float32)]))[:, :-1]
    window = in_window(alone, padded.shape[1])
    tail = slice(alone.shape[1] + 5, padded.shape[1])  # clear of the STFT's overlap
    assert np.allclose(window[:, tail], padded[:, tail], atol=1e-4)
    assert window.shape == padded.shape
