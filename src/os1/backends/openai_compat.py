"""Any OpenAI-compatible chat server: Ollama, llama.cpp server, vLLM, LM Studio, hosted APIs.

Streams `/chat/completions` over server-sent events with httpx. Structured output is
negotiated: `response_format: json_schema` (OpenAI, vLLM, Ollama, LM Studio), then llama.cpp's
`json_object` + `schema`; a server that rejects both is remembered as lacking schema support and
`generate_json` falls back to asking in words. The API key is sent as a bearer
token and never appears in an error, a log line or a repr.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Sequence
from typing import Any

import httpx

from os1.backends.base import GenerationOptions, estimate_tokens
from os1.errors import BackendUnavailable, ModelOutputError
from os1.events import BackendEvent, GenerationDone, TextDelta
from os1.messages import Message


def normalise_base_url(url: str) -> str:
    """`http://host:11434` → `http://host:11434/v1`; an explicit path is kept."""
    url = url.rstrip("/")
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise BackendUnavailable(f"The backend URL {url!r} is not an http(s) URL.")
    return url if parsed.path not in ("", "/") else url + "/v1"


class OpenAICompatBackend:
    def __init__(
        self,
        base_url: str,
        *,
        model: str | None = None,
        api_key: str | None = None,
        context_window: int = 8192,
        timeout: float = 120.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = normalise_base_url(base_url)
        self.name = self.base_url
        self.model = model
        self.context_window = context_window
        self.supports_schema = True
        self._schema_styles = ["json_schema", "json_object"]
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=5.0),
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"OpenAICompatBackend({self.base_url!r}, model={self.model!r})"

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _model_name(self) -> str:
        if self.model is None:
            data = await self._request_json("GET", "/models")
            models = data.get("data") or []
            self.model = str(models[0]["id"]) if models else "default"
        return self.model

    def _fail(self, status: int) -> BackendUnavailable:
        if status in (401, 403):
            return BackendUnavailable(
                f"The model server at {self.base_url} refused the API key (HTTP {status})."
            )
        return BackendUnavailable(f"The model server at {self.base_url} answered HTTP {status}.")

    def _unreachable(self, e: httpx.HTTPError) -> BackendUnavailable:
        kind = "timed out" if isinstance(e, httpx.TimeoutException) else "is unreachable"
        return BackendUnavailable(f"The model server at {self.base_url} {kind}.")

    async def _request_json(self, method: str, path: str) -> dict[str, Any]:
        try:
            response = await self._client.request(method, self.base_url + path)
        except httpx.HTTPError as e:
            raise self._unreachable(e) from None
        if response.status_code >= 400:
            raise self._fail(response.status_code)
        try:
            data = response.json()
        except ValueError:
            raise BackendUnavailable(
                f"The model server at {self.base_url} did not answer in JSON."
            ) from None
        return data if isinstance(data, dict) else {}

    def _response_format(self, schema: dict[str, Any]) -> dict[str, Any]:
        if self._schema_styles[0] == "json_schema":
            return {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}
        return {"type": "json_object", "schema": schema}

    async def stream(
        self, messages: Sequence[Message], options: GenerationOptions
    ) -> AsyncGenerator[BackendEvent, None]:
        body: dict[str, Any] = {
            "model": await self._model_name(),
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": True,
            "max_tokens": options.max_tokens,
            "temperature": options.temperature,
        }
        if options.stop:
            body["stop"] = list(options.stop)
        if options.seed is not None:
            body["seed"] = options.seed
        url = self.base_url + "/chat/completions"
        produced = 0
        finish = "stop"
        try:
            while True:
                want_schema = options.json_schema is not None and bool(self._schema_styles)
                if want_schema:
                    body["response_format"] = self._response_format(dict(options.json_schema or {}))
                response = await self._client.send(
                    self._client.build_request("POST", url, json=body), stream=True
                )
                if response.status_code < 400 or not want_schema:
                    break
                await response.aclose()
                if response.status_code in (401, 403, 404):
                    raise self._fail(response.status_code)
                self._schema_styles.pop(0)  # this server rejected that style; try the next
                if not self._schema_styles:
                    self.supports_schema = False
                    raise ModelOutputError("the server supports no structured-output style")
            try:
                if response.status_code >= 400:
                    raise self._fail(response.status_code)
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    payload = line[5:].strip()
                    if payload == "[DONE]":
                        break
                    try:
                        chunk = json.loads(payload)
                        choice = chunk["choices"][0]
                    except (ValueError, KeyError, IndexError, TypeError):
                        continue  # keep-alives and vendor extras
                    text = (choice.get("delta") or {}).get("content")
                    if text:
                        produced += 1
                        yield TextDelta(text)
                    if choice.get("finish_reason") == "length":
                        finish = "length"
            finally:
                await response.aclose()
        except httpx.HTTPError as e:
            raise self._unreachable(e) from None
        yield GenerationDone(finish, completion_tokens=produced)  # type: ignore[arg-type]
