"""The HTTP backend against scripted transports (unit) and a closed port (real socket)."""

from __future__ import annotations

import json
import socket

import httpx
import pytest
from pydantic import BaseModel

from os1.backends.base import GenerationOptions, collect_text
from os1.backends.openai_compat import OpenAICompatBackend, normalise_base_url
from os1.backends.structured import generate_json
from os1.errors import BackendUnavailable
from os1.messages import Message

MSGS = [Message("user", "hi")]


def sse(*texts: str) -> bytes:
    lines = [
        "data: " + json.dumps({"choices": [{"delta": {"content": t}, "finish_reason": None}]})
        for t in texts
    ]
    return ("\n\n".join([*lines, "data: [DONE]"]) + "\n\n").encode()


def backend_with(handler: object, **kw: object) -> OpenAICompatBackend:
    return OpenAICompatBackend(
        "http://127.0.0.1:9/v1",
        model="m",
        transport=httpx.MockTransport(handler),
        **kw,  # type: ignore[arg-type]
    )


async def test_streams_deltas_and_sends_key():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=sse("Hel", "lo", "!"))

    b = backend_with(handler, api_key="sk-abc")
    assert await collect_text(b, MSGS, GenerationOptions()) == "Hello!"
    body = json.loads(seen[0].content)
    assert body["stream"] is True and body["messages"] == [{"role": "user", "content": "hi"}]
    assert seen[0].headers["authorization"] == "Bearer sk-abc"
    assert "sk-abc" not in repr(b)


@pytest.mark.parametrize(("status", "needle"), [(401, "refused the API key"), (500, "HTTP 500")])
async def test_http_errors_are_one_sentence_without_key(status: int, needle: str):
    b = backend_with(lambda r: httpx.Response(status, text="nope"), api_key="sk-secret")
    with pytest.raises(BackendUnavailable) as e:
        await collect_text(b, MSGS, GenerationOptions())
    assert needle in str(e.value) and "sk-secret" not in str(e.value)


async def test_unreachable_server_is_one_sentence():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connection refused
        b = OpenAICompatBackend(f"http://127.0.0.1:{port}", model="m")
        with pytest.raises(BackendUnavailable) as e:
            await collect_text(b, MSGS, GenerationOptions())
    assert f"127.0.0.1:{port}/v1 is unreachable" in str(e.value)


async def test_schema_rejection_falls_back_to_words():
    class Out(BaseModel):
        name: str

    bodies: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        if "response_format" in body:
            return httpx.Response(400 if len(bodies) == 1 else 500, text="unsupported")
        return httpx.Response(200, content=sse('Sure! {"name": ', '"Iris"} hope that helps'))

    b = backend_with(handler)
    assert (await generate_json(b, MSGS, Out)).name == "Iris"
    assert b.supports_schema is False
    assert "JSON schema" in str(bodies[-1]["messages"])


def test_base_url_normalisation():
    assert normalise_base_url("http://localhost:11434") == "http://localhost:11434/v1"
    assert normalise_base_url("http://h:8000/v1/") == "http://h:8000/v1"
    with pytest.raises(BackendUnavailable):
        normalise_base_url("ftp://x")
