"""The embedded backend: llama.cpp in-process through llama-cpp-python.

llama.cpp is synchronous, so generation runs in a worker thread that hands tokens to the event
loop; one lock serialises access to the model (one llama context = one generation at a time).
Stopping the consumer sets a flag the worker checks at every token, so Ctrl-C or barge-in stop
the model within one token. llama-cpp-python keeps the previous prompt's tokens and only
evaluates the new suffix, so a stable system prompt means later turns reuse the KV cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import AsyncGenerator, Iterator, Sequence
from pathlib import Path
from typing import Any

from os1.backends.base import GenerationOptions
from os1.errors import BackendUnavailable, ModelFileError
from os1.events import BackendEvent, GenerationDone, TextDelta
from os1.messages import Message

_END = object()
# Small models loop ("I'm trying to be lost. I'm trying to be lost…") without a mild penalty.
REPEAT_PENALTY = 1.1


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """llama.cpp prints model metadata to fd 2 while loading; keep the terminal clean."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def check_gguf(path: Path) -> None:
    """Refuse anything that is not a readable GGUF file, before llama.cpp sees it."""
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except FileNotFoundError:
        raise ModelFileError(f"The model file {path} does not exist.") from None
    except IsADirectoryError:
        raise ModelFileError(f"The model path {path} is a directory, not a GGUF file.") from None
    except OSError as e:
        raise ModelFileError(f"The model file {path} cannot be read ({e.strerror}).") from None
    if magic != b"GGUF":
        raise ModelFileError(f"The file {path} is not a GGUF model.")


class LlamaCppBackend:
    supports_schema = True

    def __init__(
        self, model_path: Path, *, n_ctx: int = 4096, n_threads: int | None = None, name: str = ""
    ) -> None:
        check_gguf(model_path)
        try:
            from llama_cpp import Llama
        except ImportError:  # pragma: no cover - part of the core install
            raise ModelFileError(
                "llama-cpp-python is not installed; run `make run` to set os1 up."
            ) from None
        try:
            with _quiet_stderr():
                self._llm: Any = Llama(
                    model_path=str(model_path),
                    n_ctx=n_ctx,
                    n_threads=n_threads or os.cpu_count() or 1,
                    verbose=False,
                )
        except (ValueError, RuntimeError) as e:
            raise ModelFileError(
                f"The model file {model_path} could not be loaded; it is corrupt or not a "
                f"model llama.cpp supports ({str(e).splitlines()[0][:120]})."
            ) from None
        self.name = name or f"gguf:{model_path.name}"
        self.model_path = model_path
        self.context_window = n_ctx
        self._lock = threading.Lock()
        self._running: set[tuple[threading.Thread, threading.Event]] = set()

    def close(self, timeout: float = 10.0) -> None:
        """Stop any generation (within a token), wait for it, and free the model, so that
        no worker thread is inside llama.cpp when the interpreter shuts down."""
        for thread, stop in list(self._running):
            stop.set()
            thread.join(timeout)
        with self._lock:
            close = getattr(self._llm, "close", None)
            if close is not None:
                close()

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    async def stream(
        self, messages: Sequence[Message], options: GenerationOptions
    ) -> AsyncGenerator[BackendEvent, None]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        stop = threading.Event()

        def put(item: object) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        def work() -> None:
            try:
                with self._lock:
                    put(self._generate(messages, options, stop, put))
            except BaseException as e:  # handed to the consumer, re-raised there
                put(e)
            finally:
                put(_END)

        thread = threading.Thread(target=work, name="os1-llama", daemon=True)
        running = (thread, stop)
        self._running.add(running)
        thread.start()
        try:
            while (item := await queue.get()) is not _END:
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, TextDelta | GenerationDone)
                yield item
        finally:
            stop.set()
            self._running.discard(running)

    def _generate(
        self,
        messages: Sequence[Message],
        options: GenerationOptions,
        stop: threading.Event,
        put: Any,
    ) -> GenerationDone:
        kwargs: dict[str, Any] = {
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": True,
            "max_tokens": options.max_tokens,
            "temperature": options.temperature,
            "repeat_penalty": REPEAT_PENALTY,
            "stop": list(options.stop) or None,
        }
        if options.seed is not None:
            kwargs["seed"] = options.seed
        if options.json_schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": dict(options.json_schema)}
        finish = "stop"
        produced = 0
        try:
            chunks = self._llm.create_chat_completion(**kwargs)
            try:
                for chunk in chunks:
                    if stop.is_set():
                        finish = "cancelled"
                        break
                    choice = chunk["choices"][0]
                    text = choice.get("delta", {}).get("content")
                    if text:
                        produced += 1
                        put(TextDelta(text))
                    if choice.get("finish_reason") == "length":
                        finish = "length"
            finally:
                chunks.close()
        except ValueError as e:  # llama-cpp-python checks the prompt length on first use
            if "context window" in str(e):
                raise BackendUnavailable(
                    "The conversation no longer fits this model's context window; "
                    "start a new chat or set a larger n_ctx."
                ) from None
            raise
        return GenerationDone(finish, completion_tokens=produced)  # type: ignore[arg-type]
