"""The HTTP backend against a real OpenAI-compatible server: llama-cpp-python's own server
running the tiny GGUF on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from pydantic import BaseModel

from os1.backends.base import GenerationOptions, collect_text
from os1.backends.openai_compat import OpenAICompatBackend
from os1.backends.structured import generate_json
from os1.messages import Message
from tests.models import TINY

pytestmark = pytest.mark.model


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(TINY),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
            "--n_threads",
            "2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/v1/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            pytest.fail("llama_cpp.server did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


async def test_streams_from_a_real_server(server_url: str):
    backend = OpenAICompatBackend(server_url)  # model name discovered from /v1/models
    text = await collect_text(
        backend, [Message("user", "Say hi.")], GenerationOptions(max_tokens=12, temperature=0.0)
    )
    assert text.strip()
    await backend.aclose()


async def test_structured_output_from_a_real_server(server_url: str):
    class Color(BaseModel):
        color: str

    backend = OpenAICompatBackend(server_url, model="tiny")
    got = await generate_json(
        backend,
        [Message("user", "Name a color as JSON.")],
        Color,
        GenerationOptions(max_tokens=30, temperature=0.0),
    )
    assert isinstance(got.color, str)
    await backend.aclose()
