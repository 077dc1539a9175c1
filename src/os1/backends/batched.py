"""The embedded model for many users at once: continuous batching on llama.cpp's batch API.

`BatchedLlamaBackend(path, slots=N)` holds one llama context with N sequences (`n_seq_max=N`,
a KV cache of N x `n_ctx` tokens) and one engine thread. Each step of the engine evaluates
every generating slot's next token in one `llama_decode` and samples each slot's next token
from its own row of logits, then evaluates a chunk (`prompt_chunk` tokens) of each prompt
still pending, so a new user's prompt is spread over several steps instead of stalling the
others. A step of N tokens costs far less than N steps of one (a step of 4 about 1.6x one
on two AVX-512 cores), so aggregate throughput grows with the number of users. What each step
must keep to get that is in `_step` and `_rows`. Greedy replies do not depend on who else is
served where llama.cpp's kernels treat every row alike (the tiny test model); its repacked
Q4_K kernels round a pass of 4 rows differently from a pass of 1 (docs/benchmarks.md).

Prompt work, which batching cannot share, is avoided where it can be: a job goes to the free
slot whose cached tokens share the longest prefix with its prompt (llama-server's slot
choice), so a user's next turn evaluates only its new suffix; and when another slot, busy or
not, holds a longer prefix (the persona prompt that users share), its cache is copied
(`llama_memory_seq_cp`) rather than evaluated again.

Invariants: only the engine thread touches the context, the batch and the slots; callers
hand it `Job`s (os1.backends.slots) through `_pending` under `_cond` and read events from
their own asyncio queue, so any event loop and any thread may call `stream` (memory's
extraction thread does). A consumer that stops iterating marks its job cancelled and the
engine frees the slot at the start of the next step. The prompt formatting, grammar and
sampler are exactly `LlamaCppBackend`'s (see os1.backends.slots). More jobs than slots wait
in arrival order; put `FairBackend(engine, slots=N)` in front for fairness across users. A
failed decode fails the jobs in flight with `BackendUnavailable` and clears the cache; the
engine keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import threading
from collections import deque
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path
from typing import Any

from os1.backends.base import GenerationOptions
from os1.backends.llamacpp import _quiet_stderr, check_gguf
from os1.backends.slots import Job, Slot, choose_slot, common_prefix, prepare_job
from os1.errors import BackendUnavailable, ModelFileError
from os1.events import BackendEvent, GenerationDone, TextDelta
from os1.messages import Message

BATCH_TOKENS = 512  # tokens per llama_decode: all generating slots, or one prompt chunk
# Prompt tokens a slot evaluates per step: larger gets a new user's first token sooner, smaller
# keeps the others' tokens flowing while it is evaluated.
PROMPT_CHUNK = 64
# Prompt tokens another slot's cache must save over the chosen slot's own before it is copied:
# the copy moves a whole sequence's cache (tens of MB), about what evaluating a token costs.
COPY_MIN_GAIN = 4
# Idle slots between two generating ones that are padded to keep them in one pass over the
# weights. Measured on 2 cores: a padding token costs about half what another pass costs.
MAX_PADDING = 2


class BatchedLlamaBackend:
    supports_schema = True

    def __init__(
        self,
        model_path: Path,
        *,
        slots: int = 4,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        name: str = "",
        prompt_chunk: int = PROMPT_CHUNK,
    ) -> None:
        if not 1 <= slots <= BATCH_TOKENS or not 1 <= prompt_chunk < BATCH_TOKENS:
            raise ValueError("slots must be at least 1 and prompt_chunk fit in a batch")
        check_gguf(model_path)
        # llama.cpp's CPU threads are an OpenMP team whose idle threads by default spin between
        # decodes, taking the shared cores from the engine thread's sampling (measured: steps
        # ~4x slower on 2 loaded cores). Let them sleep, unless the user chose a policy; this
        # only works before the first llama_cpp import loads libgomp.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import llama_cpp
        from llama_cpp import Llama
        from llama_cpp._internals import LlamaContext

        threads = n_threads or os.cpu_count() or 1
        try:
            with _quiet_stderr():
                # The Llama object lends its weights, tokenizer and chat handler; its own small
                # context is never used for generation.
                self._llm: Any = Llama(
                    model_path=str(model_path), n_ctx=256, n_batch=32, n_ubatch=32, verbose=False
                )
                params = llama_cpp.llama_context_default_params()
                params.n_ctx = n_ctx * slots
                params.n_batch = params.n_ubatch = BATCH_TOKENS
                params.n_seq_max = slots
                # A cache per sequence (not kv_unified): each sequence's attention is computed
                # exactly as it would be alone, so greedy replies do not depend on who else is
                # being served. The price: llama.cpp may split a step that mixes prompt chunks with
                # generating slots into several passes over the weights.
                params.n_threads = params.n_threads_batch = threads
                params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED  # as Llama
                self._ctx: Any = LlamaContext(model=self._llm._model, params=params, verbose=False)
        except (ValueError, RuntimeError) as e:
            raise ModelFileError(
                f"The model file {model_path} could not be loaded for {slots} users "
                f"({str(e).splitlines()[0][:120]})."
            ) from None
        self._lib = llama_cpp
        self._vocab = self._llm._model.vocab
        self._batch: Any = llama_cpp.llama_batch_init(BATCH_TOKENS, 0, 1)
        self._piece_buffer = ctypes.create_string_buffer(256)
        self.name = name or f"gguf:{model_path.name}"
        self.model_path = model_path
        self.context_window = int(llama_cpp.llama_n_ctx_seq(self._ctx.ctx))  # per slot
        self.prompt_chunk = prompt_chunk
        self.reused_tokens = 0  # prompt tokens not evaluated thanks to a slot's cached prefix
        self.copied_tokens = 0  # of those, copied from another slot's cache
        self._slots = [Slot(i) for i in range(slots)]
        self._pending: deque[Job] = deque()
        self._admitted = 0
        self._cond = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="os1-batched", daemon=True)
        self._thread.start()

    # --- the Backend surface (any thread, any event loop) -------------------------------------

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    @property
    def active(self) -> int:
        """Slots holding a job now."""
        return sum(slot.job is not None for slot in self._slots)

    async def stream(
        self, messages: Sequence[Message], options: GenerationOptions
    ) -> AsyncGenerator[BackendEvent, None]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[BackendEvent | BaseException] = asyncio.Queue()

        def send(item: BackendEvent | BaseException) -> None:
            with contextlib.suppress(RuntimeError):  # the consumer's event loop is gone
                loop.call_soon_threadsafe(queue.put_nowait, item)

        if self._closing:  # the model may be freed already: do not even tokenise
            raise BackendUnavailable("The embedded model is shutting down.")
        job = await asyncio.to_thread(prepare_job, self._llm, messages, options, send)
        if len(job.tokens) >= self.context_window:
            raise BackendUnavailable(
                "The conversation no longer fits this model's context window; "
                "start a new chat or set a larger n_ctx."
            )
        with self._cond:
            if self._closing:
                raise BackendUnavailable("The embedded model is shutting down.")
            self._pending.append(job)
            self._cond.notify()
        try:
            while True:
                item = await queue.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
                if isinstance(item, GenerationDone):
                    return
        finally:
            job.cancelled.set()

    def close(self, timeout: float = 10.0) -> None:
        """Stop the engine (within a step), end every job, and free the context and model."""
        with self._cond:
            if self._closing:
                return
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout)
        if self._thread.is_alive():  # pragma: no cover - a step hung; never free under it
            return
        self._lib.llama_batch_free(self._batch)
        self._ctx.close()
        self._llm.close()

    # --- the engine thread --------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not (self._closing or self._pending or self.active):
                    self._cond.wait()
                if self._closing:
                    break
            try:
                self._admit()
                self._step()
            except Exception as e:  # a failed decode: the jobs in flight fail, the engine goes on
                self._fail(e)
        for slot in self._slots:
            if slot.job is not None:
                self._end(slot, "cancelled")
        with self._cond:
            while self._pending:
                self._pending.popleft().finish("cancelled")

    def _admit(self) -> None:
        """Give free slots to waiting jobs, each to the slot sharing its longest prefix; when
        another slot (busy or not) holds a longer prefix of the prompt, such as the persona
        prompt that several users share, copy that slot's cache instead of evaluating it again."""
        while free := [s for s in self._slots if s.job is None]:
            with self._cond:
                if not self._pending:
                    return
                job = self._pending.popleft()
            if job.cancelled.is_set():
                continue
            slot = choose_slot(free, job.tokens)
            slot.job = job
            self._admitted += 1
            slot.used = self._admitted
            limit = len(job.tokens) - 1  # the last prompt token is evaluated for its logits
            keep = min(common_prefix(slot.cached, job.tokens), limit)
            donor = max(self._slots, key=lambda s: common_prefix(s.cached, job.tokens))
            shared = min(common_prefix(donor.cached, job.tokens), limit)
            if shared >= keep + COPY_MIN_GAIN:
                # Across per-sequence caches llama.cpp copies the donor's whole stream, at the
                # start of the next decode (before that decode writes to either); the tail the
                # prompt does not share is cut below, as for the slot's own cache.
                self._lib.llama_memory_seq_cp(self._ctx.memory, donor.seq_id, slot.seq_id, -1, -1)
                slot.cached[:] = donor.cached
                keep = shared
                self.copied_tokens += shared
            self._lib.llama_memory_seq_rm(self._ctx.memory, slot.seq_id, keep, -1)
            del slot.cached[keep:]
            self.reused_tokens += keep
            job.todo = job.tokens[keep:]

    def _step(self) -> None:
        """Every generating slot's next token in one llama_decode, then a chunk of each prompt
        being evaluated, each in a llama_decode of its own.

        Why apart: with a cache per sequence llama.cpp splits a batch into passes over the
        weights that take the same number of tokens from each of a run of consecutive sequence
        ids (its "equal split"), so a prompt mixed into the generating slots' batch would lend
        them one of its tokens per pass. That token would then be evaluated alone, by other
        kernels (llama.cpp's CPU matmul takes another path for one row than for several), and
        round differently from the same prompt evaluated by `LlamaCppBackend`. Apart, each
        chunk is evaluated as one block, at little cost: llama.cpp made a pass for it anyway,
        and evaluating prompt tokens is bound by arithmetic, not by reading the weights.
        """
        for slot in self._slots:
            if slot.job is not None and slot.job.cancelled.is_set():
                self._end(slot, "cancelled")
        prompts = [(s, s.job) for s in self._slots if s.job is not None and s.job.todo]
        generating = [s for s in self._slots if s.job is not None and s.job.next_token is not None]
        if generating:
            self._decode_tokens(generating)
        for slot, job in prompts:
            self._decode_chunk(slot, job)

    def _decode_tokens(self, generating: list[Slot]) -> None:
        """The generating slots' tokens, in sequence order, in the rows `_rows` lays out; the
        padding rows are evaluated without output and cut from those caches afterwards."""
        self._batch.n_tokens = 0
        outputs: list[tuple[Slot, Job, int]] = []  # whose logits sit at which batch index
        padded: list[Slot] = []
        ids = {slot.seq_id for slot in generating}
        for slot in self._rows(generating):
            job = slot.job
            if slot.seq_id in ids and job is not None and job.next_token is not None:
                outputs.append((slot, job, self._batch.n_tokens))
                self._add(slot, job.next_token, True)
                job.next_token = None
            else:  # any token will do: nothing attends to it before it is cut
                self._add(slot, 0, False)
                slot.cached.pop()
                padded.append(slot)
        try:
            self._decode(outputs)
        finally:
            for slot in padded:
                self._lib.llama_memory_seq_rm(self._ctx.memory, slot.seq_id, len(slot.cached), -1)

    def _rows(self, generating: list[Slot]) -> list[Slot]:
        """The slots that get a row in this step, in sequence order: the generating ones and
        padding. llama.cpp makes one pass over the weights for each run of consecutive sequence
        ids, so a gap of up to `MAX_PADDING` other slots (idle, or with a prompt pending) is
        padded; a longer gap costs more padding than a pass. And a pass of 3 rows (7, 11, ...)
        gets one more: llama.cpp's repacked CPU kernels take rows four at a time and the rest
        one by one, so 4 rows cost less than 3 (measured on the default model, 2 cores: 114 vs
        125 ms a step; 2 rows, 103 ms, are left alone)."""
        rows: list[Slot] = []
        for before, slot in zip([None, *generating], generating, strict=False):
            if before is not None and slot.seq_id - before.seq_id - 1 <= MAX_PADDING:
                rows += [o for o in self._slots[before.seq_id + 1 : slot.seq_id] if self._room(o)]
            rows.append(slot)
        consecutive = rows[-1].seq_id - rows[0].seq_id + 1 == len(rows)
        if consecutive and len(rows) % 4 == 3:
            first, last = rows[0].seq_id, rows[-1].seq_id
            after = self._slots[last + 1 : last + 2]
            before_ = self._slots[max(first - 1, 0) : first]
            if after and self._room(after[0]):
                rows.append(after[0])
            elif before_ and self._room(before_[0]):
                rows.insert(0, before_[0])
        return rows

    def _room(self, slot: Slot) -> bool:
        """Whether a padding token fits in the slot's cache."""
        return len(slot.cached) + 1 < self.context_window

    def _decode_chunk(self, slot: Slot, job: Job) -> None:
        """The next `prompt_chunk` tokens of a prompt, and its first token's logits after the
        last chunk. A chunk never leaves a single token behind: that one would be evaluated
        alone, by the one-row kernels (see `_step`)."""
        n = min(self.prompt_chunk, len(job.todo))
        if len(job.todo) - n == 1:
            n += 1
        chunk, job.todo = job.todo[:n], job.todo[n:]
        self._batch.n_tokens = 0
        for token in chunk:
            self._add(slot, token, False)
        if job.todo:
            self._decode([])
        else:
            self._batch.logits[n - 1] = True
            self._decode([(slot, job, n - 1)])

    def _decode(self, outputs: list[tuple[Slot, Job, int]]) -> None:
        code = self._lib.llama_decode(self._ctx.ctx, self._batch)
        if code != 0:
            raise RuntimeError(f"llama_decode returned {code}")
        for slot, job, index in outputs:
            self._sample(slot, job, index)

    def _add(self, slot: Slot, token: int, logits: bool) -> None:
        b, i = self._batch, self._batch.n_tokens
        b.token[i], b.pos[i], b.n_seq_id[i], b.logits[i] = token, len(slot.cached), 1, logits
        b.seq_id[i][0] = slot.seq_id
        b.n_tokens = i + 1
        slot.cached.append(token)

    def _sample(self, slot: Slot, job: Job, index: int) -> None:
        token = job.sampler.sample(self._ctx, index)
        if self._lib.llama_vocab_is_eog(self._vocab, token):
            self._end(slot, "stop")
            return
        job.produced += 1
        text, stopped = job.take(self._piece(token))
        if text:
            job.send(TextDelta(text))
        if stopped:
            self._end(slot, "stop")
        elif job.produced >= job.max_tokens or len(slot.cached) + 1 >= self.context_window:
            self._end(slot, "length")
        else:
            job.next_token = token

    def _piece(self, token: int) -> bytes:
        n = self._lib.llama_token_to_piece(
            self._vocab, token, self._piece_buffer, len(self._piece_buffer), 0, False
        )
        return self._piece_buffer.raw[: max(n, 0)]

    def _end(self, slot: Slot, reason: str) -> None:
        job, slot.job = slot.job, None
        if job is not None:
            job.finish(reason)

    def _fail(self, error: Exception) -> None:
        sentence = f"The embedded model failed while generating ({str(error)[:80]}); try again."
        for slot in self._slots:
            if slot.job is not None:
                slot.job.send(BackendUnavailable(sentence))
                slot.job = None
            slot.cached.clear()
        self._lib.llama_memory_clear(self._ctx.memory, True)


__all__ = ["BatchedLlamaBackend"]
