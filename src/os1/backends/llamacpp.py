"""The embedded backend: llama.cpp in-process through llama-cpp-python.

llama.cpp is synchronous, so generation runs in a worker thread that hands tokens to the event
loop; one lock serialises access to the model (one llama context = one generation at a time).
Stopping the consumer sets a flag the worker checks at every token, so Ctrl-C or barge-in stop
the model within one token. llama-cpp-python keeps the previous prompt's tokens and only
evaluates the new suffix, so a stable system prompt means later turns reuse the KV cache.

`prefill(messages)` evaluates a prompt ahead of its turn (voice evaluates the guessed prompt
during a pause) without generating. It is speculative, so it never delays a real generation:
it evaluates in chunks of `PREFILL_CHUNK` tokens (`RELAXED_CHUNK` while its caller says no
turn can come soon) and gives the model up at the next chunk boundary once a generation is
waiting for it (or its caller is cancelled), and one that had to wait for a generation
started after it does not run at all (that guess is stale). Whatever it evaluated stays in
the cache; a generation whose prompt shares that prefix skips it.
`yield_cores()` holds generation between tokens while something more urgent (synthesising
the first spoken piece) uses the CPU.

Once a conversation fills the window and its history is cut (`GenerationOptions.cut_history`,
`prefill(cut_history=)`), the cache is shifted rather than evaluated again
(os1.backends.shift).

A `background` generation (memory's extraction, between turns) would replace the
conversation's evaluated prompt with its own, and the next turn would evaluate the whole
history again (seconds). So the conversation's KV cells are copied out before it and back after
it (`llama_state_seq_get/set_data`, ~10 ms for a thousand tokens; the high-level
`save_state` takes ~0.9 s); if that fails, the next turn simply evaluates more. It ranks below
a prefill (which prepares the turn the user is about to take): it neither makes one stale nor
makes one give way, it waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import threading
import time
from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from os1.backends.base import GenerationOptions
from os1.backends.shift import shifting
from os1.errors import BackendUnavailable, ModelFileError
from os1.events import BackendEvent, GenerationDone, TextDelta
from os1.messages import Message

_END = object()
# Tokens a prefill evaluates between checks for a waiting generation: the longest a real turn
# waits for a prefill, traded against batch efficiency (llama.cpp evaluates small batches
# markedly slower per token on CPU).
PREFILL_CHUNK = 8
# ... while the caller says no turn can come soon (nobody is talking): on 2 cores the default
# 1.5B model evaluates 32-token batches at ~11 ms a token against ~19 ms in batches of 8.
RELAXED_CHUNK = 32
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


def chat_completion_kwargs(
    messages: Sequence[Message], options: GenerationOptions
) -> dict[str, Any]:
    """What `Llama.create_chat_completion` is asked for one generation. The batched engine
    (os1.backends.batched) formats, constrains and samples from these same arguments."""
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
    return kwargs


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
        self._registry = threading.Lock()  # guards _running and _closed
        self._closed = False
        self._waiting = 0  # generations waiting for the model (a prefill gives way to them)
        self._generations = 0  # generations started so far
        self._waiting_lock = threading.Lock()
        self._go = threading.Event()  # cleared while generation yields the cores
        self._go.set()

    def close(self, timeout: float = 10.0) -> None:
        """Stop any generation (within a token), wait for it, and free the model, so that
        no worker thread is inside llama.cpp when the interpreter shuts down."""
        with self._registry:  # no worker starts after this; each one listed has started
            self._closed = True
            running = list(self._running)
        for thread, stop in running:
            stop.set()
            thread.join(timeout)
        with self._lock:
            close = getattr(self._llm, "close", None)
            if close is not None:
                close()

    @contextlib.contextmanager
    def _model_for_generation(self, background: bool = False) -> Iterator[None]:
        """Hold the model for a generation; a prefill in progress yields it within a chunk to
        a turn, but not to background work, which waits for it (the prefill is for the turn
        the user is about to take)."""
        if background:  # after any turn waiting for the model, whatever the lock's order
            while True:
                self._lock.acquire()
                if self._waiting == 0:
                    break
                self._lock.release()
                time.sleep(0.01)
            try:
                yield
            finally:
                self._lock.release()
            return
        with self._waiting_lock:
            self._waiting += 1
            self._generations += 1
        try:
            self._lock.acquire()
        finally:
            with self._waiting_lock:
                self._waiting -= 1
        try:
            yield
        finally:
            self._lock.release()

    @contextlib.contextmanager
    def yield_cores(self) -> Iterator[None]:
        """Pause generation between tokens while the block runs (it needs the CPU more). It
        holds whichever generation runs; keep the block short (one synthesis)."""
        self._go.clear()
        try:
            yield
        finally:
            self._go.set()

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    async def stream(
        self, messages: Sequence[Message], options: GenerationOptions
    ) -> AsyncGenerator[BackendEvent, None]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        stop = threading.Event()

        def put(item: object) -> None:
            with contextlib.suppress(RuntimeError):  # the consumer's loop is gone
                loop.call_soon_threadsafe(queue.put_nowait, item)

        def work() -> None:
            try:
                with self._model_for_generation(options.background):
                    put(self._generate(messages, options, stop, put))
            except BaseException as e:  # handed to the consumer, re-raised there
                put(e)
            finally:
                put(_END)

        running = self._start(work, "os1-llama", stop)
        try:
            while (item := await queue.get()) is not _END:
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, TextDelta | GenerationDone)
                yield item
        finally:
            stop.set()
            with self._registry:
                self._running.discard(running)

    def _start(
        self, work: Callable[[], None], name: str, stop: threading.Event
    ) -> tuple[threading.Thread, threading.Event]:
        """Start a worker thread, registered so that `close` can stop and join it; none starts
        once the model is closed (a late caller, e.g. memory's extraction at shutdown)."""
        with self._registry:
            if self._closed:
                raise BackendUnavailable("The model has been shut down.")
            thread = threading.Thread(target=work, name=name, daemon=True)
            running = (thread, stop)
            self._running.add(running)
            thread.start()
        return running

    async def prefill(
        self,
        messages: Sequence[Message],
        *,
        relaxed: Callable[[], bool] | None = None,
        cut_history: bool = False,
    ) -> None:
        """Evaluate `messages` as the next prompt, speculatively (see the module docstring):
        it returns when the prompt is evaluated, or once it has given the model up."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        stop = threading.Event()
        asked = self._generations

        def finish(error: BaseException | None) -> None:
            if done.done():
                return
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)

        def give_up() -> bool:
            return stop.is_set() or self._waiting > 0

        def work() -> None:
            error: BaseException | None = None
            try:
                with self._lock:
                    if self._generations == asked:
                        self._prefill(messages, give_up, relaxed or (lambda: False), cut_history)
            except BaseException as e:  # handed to the caller, re-raised there
                error = e
            finally:
                with contextlib.suppress(RuntimeError):  # the caller's loop may be gone
                    loop.call_soon_threadsafe(finish, error)

        running = self._start(work, "os1-llama-prefill", stop)
        try:
            await done
        finally:
            stop.set()
            with self._registry:
                self._running.discard(running)

    def _prefill(
        self,
        messages: Sequence[Message],
        give_up: Callable[[], bool],
        relaxed: Callable[[], bool],
        cut_history: bool,
    ) -> None:
        """Run the chat completion path for one token with llama's `eval` chunked, so the
        prompt is formatted, tokenised and prefix-matched exactly as a generation will be."""
        if give_up():
            return
        overridden = vars(self._llm).get("eval")  # (a test's spy)
        evaluate = self._llm.eval

        def eval_in_chunks(tokens: Sequence[int]) -> None:
            i = 0
            while i < len(tokens):
                if give_up():
                    raise _GaveUp
                chunk = RELAXED_CHUNK if relaxed() else PREFILL_CHUNK
                evaluate(tokens[i : i + chunk])
                i += chunk

        self._llm.eval = eval_in_chunks
        try:
            with shifting(self._llm) if cut_history else contextlib.nullcontext():
                chunks = self._llm.create_chat_completion(
                    messages=[{"role": m.role, "content": m.content} for m in messages],
                    stream=True,
                    max_tokens=1,
                )
                try:
                    for _ in chunks:
                        pass
                finally:
                    chunks.close()
        except _GaveUp:
            pass  # what was evaluated stays cached, up to the last whole chunk
        except ValueError as e:
            if "context window" not in str(e):  # too long: the real turn will say so
                raise
        finally:
            if overridden is None:
                del self._llm.eval
            else:
                self._llm.eval = overridden

    def _generate(
        self,
        messages: Sequence[Message],
        options: GenerationOptions,
        stop: threading.Event,
        put: Any,
    ) -> GenerationDone:
        kwargs = chat_completion_kwargs(messages, options)
        finish = "stop"
        produced = 0
        kept = self._keep_cache() if options.background else None
        try:
            with shifting(self._llm) if options.cut_history else contextlib.nullcontext():
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
                            while not self._go.is_set() and not stop.is_set():
                                self._go.wait(0.05)  # yield_cores(): the next token waits
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
        finally:
            if kept is not None:
                self._restore_cache(kept)
        return GenerationDone(finish, completion_tokens=produced)  # type: ignore[arg-type]

    def _keep_cache(self) -> _Kept | None:
        """A copy of the evaluated prompt (sequence 0's KV cells and its tokens)."""
        try:
            from llama_cpp import llama_cpp as low

            ctx, n = self._llm._ctx.ctx, int(self._llm.n_tokens)
            if n == 0:
                return None
            size = low.llama_state_seq_get_size(ctx, 0)
            data = (ctypes.c_uint8 * size)()
            if low.llama_state_seq_get_data(ctx, data, size, 0) != size:
                return None
            return _Kept(data, size, self._llm.input_ids[:n].copy())
        except (AttributeError, OSError, ValueError):  # another llama.cpp: evaluate again
            return None

    def _restore_cache(self, kept: _Kept) -> None:
        try:
            from llama_cpp import llama_cpp as low

            ctx = self._llm._ctx.ctx
            low.llama_memory_seq_rm(low.llama_get_memory(ctx), 0, -1, -1)
            restored = low.llama_state_seq_set_data(ctx, kept.data, kept.size, 0) == kept.size
        except (AttributeError, OSError, ValueError):
            restored = False
        n = len(kept.tokens) if restored else 0  # (nothing cached: the next turn evaluates all)
        self._llm.input_ids[:n] = kept.tokens[:n]
        self._llm.n_tokens = n


@dataclass(frozen=True)
class _Kept:
    data: Any  # ctypes buffer
    size: int
    tokens: Any  # numpy array of token ids


class _GaveUp(Exception):
    """A prefill stopped between chunks: a generation wants the model, or it was cancelled."""
