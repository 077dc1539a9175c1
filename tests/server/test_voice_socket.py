"""The voice WebSocket on the voice fakes (energy VAD, scripted STT, tone TTS) and the scripted
backend: spoken turns, barge-in, bad frames, credentials and limits, a vanished client."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from starlette.types import ASGIApp
from starlette.websockets import WebSocketDisconnect

from os1.config import Config
from os1.errors import ModelFileError
from os1.server import create_app
from os1.server.app import api_of
from os1.server.state import Server
from os1.server.voice_socket import VoiceHub, VoiceLimits
from os1.testing import ScriptedBackend
from os1.voice.audio import STT_RATE, Audio, silence, to_pcm16
from os1.voice.catalog import VoiceCatalog, VoiceEngines
from os1.voice.engines import TextToSpeech
from os1.voice.testing import EnergyVad, ScriptedStt, ToneTts, tone
from tests.server.conftest import fast_settings, signup
from tests.server.test_websocket import onboard

Received = dict[str, Any] | bytes


class FakeVoices(VoiceCatalog):
    def __init__(self, tts: TextToSpeech) -> None:
        super().__init__()
        self.fake = tts

    def tts(self, voice_id: str | None) -> TextToSpeech:
        return self.fake


def use_fakes(
    app: ASGIApp, stt: ScriptedStt, tts: ToneTts | None = None, **limits: Any
) -> VoiceEngines:
    """Give `app` the voice fakes (instead of loading the real engines). Sessions end after
    20 s, so a test whose expected frame never comes fails (closed) instead of hanging."""
    engines = VoiceEngines(vad=EnergyVad, stt=stt, voices=FakeVoices(tts or ToneTts()))
    limits = {"max_seconds": 20.0, **limits}
    api_of(app).state.voice = VoiceHub(lambda: engines, VoiceLimits(**limits))
    return engines


def speak(ws: Any, audio: Audio, chunk: int = 512) -> None:
    """Send audio as PCM16 binary frames of `chunk` samples (32 ms at 16 kHz)."""
    pcm = to_pcm16(audio)
    for i in range(0, len(pcm), chunk * 2):
        ws.send_bytes(pcm[i : i + chunk * 2])


def utterance(seconds: float = 0.8, level: float = 0.3) -> Audio:
    parts = [silence(0.2).samples, tone(seconds, level=level).samples, silence(0.5).samples]
    return Audio(np.concatenate(parts).astype(np.float32), STT_RATE)


def receive(ws: Any) -> Received:
    message = ws.receive()
    if message["type"] == "websocket.close":
        return {"type": "closed", "code": message["code"]}
    if message.get("bytes") is not None:
        data: bytes = message["bytes"]
        return data
    frame: dict[str, Any] = json.loads(message["text"])
    return frame


def until(ws: Any, kind: str, seen: list[Received] | None = None) -> list[Received]:
    """Frames up to and including the first of type `kind` ("audio" = a binary frame)."""
    out: list[Received] = []
    while True:
        f = receive(ws)
        out.append(f)
        if seen is not None:
            seen.append(f)
        if isinstance(f, bytes):
            if kind == "audio":
                return out
            continue
        if f["type"] == kind:
            return out
        assert f["type"] != "closed", f"closed before {kind}: {out}"


def types(frames: list[Received]) -> list[str]:
    return ["audio" if isinstance(f, bytes) else f["type"] for f in frames]


def history(client: TestClient) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = client.get("/api/history?limit=1000").json()
    return messages


@pytest.fixture
def slow_app(config: Config) -> ASGIApp:
    story = "Well, let me tell you a long story about the sea. It goes on and on for a while."
    backend = ScriptedBackend(script=[story, "Of course."], delay=0.005)
    return create_app(config, backend=backend, settings=fast_settings())


def test_a_spoken_turn_is_heard_answered_in_audio_and_stored(
    app: ASGIApp, client: TestClient, server: Server
) -> None:
    stt = ScriptedStt(["hello there"])
    tts = ToneTts(seconds_per_word=0.25)
    use_fakes(app, stt, tts)
    signup(client, "ann")
    onboard(server, "ann")
    with client.websocket_connect("/api/voice") as ws:
        ready = receive(ws)
        expected = {"type": "ready", "input_rate": 16000, "output_rate": 24000}
        assert ready == {**expected, "max_seconds": 20.0}
        speak(ws, utterance(1.0))
        ws.send_json({"type": "end"})
        frames = until(ws, "ended")
        assert receive(ws) == {"type": "closed", "code": 1000}
    stt.assert_done()
    kinds = types(frames)
    assert kinds[:3] == ["speech_started", "speech_ended", "transcript"]
    assert frames[2]["text"] == "hello there"  # type: ignore[index]
    assert kinds[-2:] == ["reply_ended", "ended"]
    reply = "Of course. I'm listening, all of me."
    assert tts.spoken == ["Of course.", "I'm listening, all of me."]
    texts = [f["text"] for f in frames if isinstance(f, dict) and f["type"] == "reply_text"]
    assert texts == tts.spoken
    # each clause's audio follows its text, at the output rate: 0.25 s a word at 24 kHz
    audio = [f for f in frames if isinstance(f, bytes)]
    assert len(audio) == 2
    for samples, words in zip([len(a) / 2 for a in audio], [2, 5], strict=True):
        assert abs(samples - words * 6000) <= 2
    assert kinds.index("audio") == kinds.index("reply_text") + 1
    ended = frames[-2]
    assert isinstance(ended, dict) and isinstance(ended["message_id"], int)
    assert ended == {**ended, "type": "reply_ended", "status": "complete", "text": reply}
    said, answer = history(client)[-2:]
    assert (said["role"], said["content"]) == ("user", "hello there")
    assert (answer["content"], answer["status"]) == (reply, "complete")


def test_barge_in_stops_the_audio_and_stores_only_what_was_played(slow_app: ASGIApp) -> None:
    stt = ScriptedStt(["tell me a story", "stop please"])
    use_fakes(slow_app, stt, ToneTts(seconds_per_word=0.25))
    with TestClient(slow_app) as c:
        signup(c, "ann")
        onboard(api_of(slow_app).state.os1, "ann")
        with c.websocket_connect("/api/voice") as ws:
            receive(ws)
            seen: list[Received] = []
            speak(ws, tone(0.8))
            speak(ws, silence(0.4))  # the endpoint: the reply starts
            until(ws, "audio", seen)
            speak(ws, silence(1.0))  # it plays for a while ...
            speak(ws, tone(0.6, level=0.5))  # ... when the user talks over it
            speak(ws, silence(0.5))
            until(ws, "barge_in", seen)
            ws.send_json({"type": "end"})
            until(ws, "ended", seen)
        stt.assert_done()
        barge = next(f for f in seen if isinstance(f, dict) and f["type"] == "barge_in")
        after = seen[seen.index(barge) + 1 :]
        speaking = barge["message_id"]
        for f in after:  # no audio of the interrupted reply after the barge-in
            if isinstance(f, dict) and f["type"] == "reply_text":
                speaking = f["message_id"]
            assert not (isinstance(f, bytes) and speaking == barge["message_id"])
        interrupted = next(
            f for f in after if isinstance(f, dict) and f.get("status") == "interrupted"
        )
        assert interrupted["text"] == barge["played_text"]
        assert barge["played_text"].startswith("Well,")
        stored = next(m for m in history(c) if m["id"] == barge["message_id"])
        assert stored["status"] == "interrupted" and stored["content"] == barge["played_text"]
        assert len(stored["content"]) < len("Well, let me tell you a long story about the sea.")
        said = [m["content"] for m in history(c) if m["role"] == "user"]
        assert said == ["tell me a story", "stop please"]


def test_a_vanished_client_leaves_the_reply_interrupted_and_the_words_stored(
    slow_app: ASGIApp,
) -> None:
    use_fakes(slow_app, ScriptedStt(["tell me a story"]), ToneTts(seconds_per_word=0.25))
    with TestClient(slow_app) as c:
        signup(c, "ann")
        onboard(api_of(slow_app).state.os1, "ann")
        with c.websocket_connect("/api/voice") as ws:
            receive(ws)
            speak(ws, tone(0.8))
            speak(ws, silence(0.4))
            until(ws, "audio")
            speak(ws, silence(0.5))
        deadline = time.monotonic() + 5
        while (last := history(c)[-1])["role"] != "assistant" or last["status"] == "streaming":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        said = history(c)[-2]
        assert said["content"] == "tell me a story"
        assert last["status"] == "interrupted" and last["content"].startswith("Well,")


def test_the_first_meeting_opens_aloud_on_start(app: ASGIApp, client: TestClient) -> None:
    use_fakes(app, ScriptedStt())
    signup(client, "ann")
    with client.websocket_connect("/api/voice") as ws:
        receive(ws)
        ws.send_json({"type": "start"})
        ws.send_json({"type": "end"})
        frames = until(ws, "ended")
    spoken = " ".join(
        f["text"] for f in frames if isinstance(f, dict) and f["type"] == "reply_text"
    )
    assert "what should I call you" in spoken
    assert any(isinstance(f, bytes) for f in frames)
    assert history(client)[0]["role"] == "assistant"


def test_audio_at_48_khz_is_resampled_after_hello(
    app: ASGIApp, client: TestClient, server: Server
) -> None:
    stt = ScriptedStt(["hi"])
    use_fakes(app, stt)
    signup(client, "ann")
    onboard(server, "ann")
    with client.websocket_connect("/api/voice") as ws:
        receive(ws)
        ws.send_json({"type": "hello", "sample_rate": 48000})
        speak(ws, utterance(1.0).at(48000), chunk=1536)
        ws.send_json({"type": "end"})
        frames = until(ws, "ended")
    assert "transcript" in types(frames)
    heard = stt.heard[0]
    assert heard.rate == STT_RATE and 1.0 < heard.seconds < 1.8  # the tone plus pre-roll


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[]",
        '{"type": "dance"}',
        '{"type": "hello"}',
        '{"type": "hello", "sample_rate": 5}',
        '{"type": "end", "extra": 1}',
        "\u0000\ud800",
    ],
)
def test_malformed_control_frames_get_an_error_and_the_socket_lives_on(
    app: ASGIApp, client: TestClient, raw: str
) -> None:
    use_fakes(app, ScriptedStt())
    signup(client, "ann")
    with client.websocket_connect("/api/voice") as ws:
        receive(ws)
        ws.send_text(raw)
        error = receive(ws)
        assert isinstance(error, dict) and error["type"] == "error"
        assert error["code"] == "bad_frame" and error["message"].endswith(".")
        ws.send_json({"type": "ping"})
        assert receive(ws) == {"type": "pong"}


def test_hello_after_audio_is_refused_and_the_rate_stays(
    app: ASGIApp, client: TestClient, server: Server
) -> None:
    stt = ScriptedStt(["hi"])
    use_fakes(app, stt)
    signup(client, "ann")
    onboard(server, "ann")
    with client.websocket_connect("/api/voice") as ws:
        receive(ws)
        speak(ws, silence(0.1))
        ws.send_json({"type": "hello", "sample_rate": 48000})
        assert receive(ws) == {
            "type": "error",
            "message": "Say hello before sending any audio.",
            "code": "bad_frame",
        }
        speak(ws, utterance(0.6))
        ws.send_json({"type": "end"})
        assert "transcript" in types(until(ws, "ended"))
    assert 0.6 < stt.heard[0].seconds < 1.3


def test_an_oversized_frame_closes_with_1009_and_loses_nothing(
    app: ASGIApp, client: TestClient, server: Server
) -> None:
    use_fakes(app, ScriptedStt(["keep this"]))
    signup(client, "ann")
    onboard(server, "ann")
    with client.websocket_connect("/api/voice") as ws:
        receive(ws)
        speak(ws, utterance(0.6))
        until(ws, "reply_text")
        ws.send_bytes(b"\x00" * (64 * 1024 + 2))
        frames = until(ws, "closed")
    assert frames[-1] == {"type": "closed", "code": 1009}
    assert any(m["content"] == "keep this" for m in history(client))


def test_audio_faster_than_real_time_is_dropped(
    app: ASGIApp, client: TestClient, server: Server
) -> None:
    use_fakes(app, ScriptedStt(), burst_seconds=1.0)
    signup(client, "ann")
    with client.websocket_connect("/api/voice") as ws:
        receive(ws)
        speak(ws, silence(3.0))
        error = receive(ws)
        assert isinstance(error, dict) and error["code"] == "too_fast"
        ws.send_json({"type": "ping"})
        assert receive(ws) == {"type": "pong"}  # one warning, not one per frame


def test_a_session_ends_at_its_length_limit(app: ASGIApp, client: TestClient) -> None:
    use_fakes(app, ScriptedStt(), max_seconds=0.3)
    signup(client, "ann")
    with client.websocket_connect("/api/voice") as ws:
        receive(ws)
        speak(ws, silence(0.1))
        frames = until(ws, "closed")
    assert types(frames) == ["error", "ended", "closed"]
    assert frames[0]["code"] == "too_long"  # type: ignore[index]
    assert frames[-1] == {"type": "closed", "code": 1000}


def test_stop_hangs_up_and_the_socket_closes_normally(app: ASGIApp, client: TestClient) -> None:
    use_fakes(app, ScriptedStt())
    signup(client, "ann")
    with client.websocket_connect("/api/voice") as ws:
        receive(ws)
        ws.send_json({"type": "stop"})
        assert types(until(ws, "closed")) == ["ended", "closed"]


def test_credentials_origin_and_connection_limits(app: ASGIApp, client: TestClient) -> None:
    use_fakes(app, ScriptedStt(), per_user=1)
    for headers in ({}, {"authorization": "Bearer os1_nope"}):
        with client.websocket_connect("/api/voice", headers=headers) as ws:
            assert receive(ws) == {"type": "closed", "code": 4401}
    signup(client, "ann")
    with (
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect("/api/voice", headers={"origin": "https://evil.example"}) as ws,
    ):
        receive(ws)
    with client.websocket_connect("/api/voice") as first:
        assert receive(first)["type"] == "ready"  # type: ignore[index]
        with client.websocket_connect("/api/voice") as second:
            assert receive(second) == {"type": "closed", "code": 4429}
        first.send_json({"type": "ping"})
        assert receive(first) == {"type": "pong"}
    with client.websocket_connect("/api/voice") as again:  # the slot was given back
        assert receive(again)["type"] == "ready"  # type: ignore[index]


def test_engines_that_cannot_load_are_one_sentence_and_1013(
    app: ASGIApp, client: TestClient
) -> None:
    def broken() -> VoiceEngines:
        raise ModelFileError("The speech model is missing; run os1 doctor.")

    api_of(app).state.voice = VoiceHub(broken)
    signup(client, "ann")
    with client.websocket_connect("/api/voice") as ws:
        error = receive(ws)
        assert error == {
            "type": "error",
            "message": "The speech model is missing; run os1 doctor.",
            "code": "unavailable",
        }
        assert receive(ws) == {"type": "closed", "code": 1013}


def test_engines_load_once_for_all_connections(app: ASGIApp, client: TestClient) -> None:
    loads: list[int] = []
    engines = VoiceEngines(vad=EnergyVad, stt=ScriptedStt(), voices=FakeVoices(ToneTts()))

    def load() -> VoiceEngines:
        loads.append(1)
        return engines

    api_of(app).state.voice = VoiceHub(load)
    signup(client, "ann")
    for _ in range(3):
        with client.websocket_connect("/api/voice") as ws:
            assert receive(ws)["type"] == "ready"  # type: ignore[index]
    assert loads == [1]


# ---- the web app in real headless Chromium, with a fake microphone playing a WAV file -----


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="Debian chromium is absent")
def test_hold_to_talk_in_the_browser(config: Config, tmp_path: Path) -> None:
    import os
    import threading

    import uvicorn

    from os1.voice.audio import write_wav
    from tests.server.test_browser import ARGS, ARTIFACTS, CHROMIUM, _free_port, _sign_up

    wav = tmp_path / "mic.wav"
    write_wav(wav, Audio(utterance(1.2, level=0.4).at(48000).samples, 48000))
    backend = ScriptedBackend(script=["I heard you, clear as day."], repeat_last=True)
    app = create_app(config, backend=backend, settings=fast_settings())
    fed: list[int] = []

    class CountingVad(EnergyVad):
        def speech_probability(self, frame: Any) -> float:
            fed.append(len(frame))
            return super().speech_probability(frame)

    stt = ScriptedStt(["hello from the browser"] * 20)
    engines = VoiceEngines(vad=CountingVad, stt=stt, voices=FakeVoices(ToneTts()))
    api_of(app).state.voice = VoiceHub(lambda: engines)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", ws="websockets-sansio"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"
    from playwright.sync_api import sync_playwright

    fake_mic = [
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}",
        "--autoplay-policy=no-user-gesture-required",
    ]
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, args=ARGS + fake_mic, headless=True
            )
            try:
                page = browser.new_page(viewport={"width": 900, "height": 760})
                errors: list[str] = []
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.goto(f"http://127.0.0.1:{port}")
                page.wait_for_selector("#welcome:not([hidden])")
                _sign_up(page, "Ann")
                page.wait_for_selector("#mic:not([hidden])")  # voice is available
                page.wait_for_function(
                    "() => document.querySelector('.msg.os') && "
                    "!document.querySelector('.msg.streaming')"
                )
                onboard(api_of(app).state.os1, "Ann")
                page.hover("#mic")
                page.mouse.down()
                page.wait_for_function("() => document.querySelector('#mic.live')")
                page.wait_for_timeout(1900)  # the file: 0.2 s quiet, 1.2 s "speech", quiet
                page.mouse.up()
                page.wait_for_function(
                    "() => [...document.querySelectorAll('.msg.you')]"
                    ".some(n => n.textContent === 'hello from the browser')",
                    timeout=15000,
                )
                page.wait_for_function(
                    "() => [...document.querySelectorAll('.msg.os')]"
                    ".some(n => n.textContent.includes('I heard you'))",
                    timeout=15000,
                )
                page.wait_for_timeout(3000)  # the file loops on, but the button is up: muted
                assert page.locator(".msg.you").count() == 1
                last = page.locator(".msg.os").last
                assert last.text_content() == "I heard you, clear as day."
                assert "interrupted" not in (last.get_attribute("class") or "")
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / "07-voice.png"))
                assert [e for e in errors if "status of 401" not in e] == []  # first /api/me
            finally:
                browser.close()
    finally:
        server.should_exit = True
        thread.join(10)
    assert fed and set(fed) == {512}  # 32 ms frames at 16 kHz reached the VAD
    assert len(fed) * 512 / 16000 > 2.0  # in real time while the button was held, and after
