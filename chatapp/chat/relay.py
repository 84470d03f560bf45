"""One event loop per worker process that carries every answer it streams.

Celery's threads pool gives each answer a thread; the thread hands the answer's
coroutine to this loop (`relay().run(...)`) and waits. On the loop, all answers
share one Redis client, one HTTP connection pool and one ticker. Each round
of the ticker takes, from every answer, everything that arrived since the
previous round as one numbered chunk, and sends all of them, with their log
appends, Stop checks and lease renewals, in a single Redis pipeline.

Coalescing adapts to load: when a round or the loop itself runs late (the
process is busy), the interval stretches, so chunks per second per answer fall
instead of piling up, and each chunk carries more text. The rendered HTML
rides along at a low rate and is rendered incrementally (see
`IncrementalMarkdown`), so no per-chunk cost grows with the answer's length,
and in a thread of its own, never on the loop: the chunk that the HTML
matches waits for it (later text of that answer waits behind it), while
every other answer's chunks go on.

Progress is saved to the database every STREAM_SAVE_INTERVAL in one batch per
round, in a worker thread; a failed save (the database is restarting) is tried
again next round, and the final save retries with backoff (`run_in_db`). What
is saved is exactly the chunks sent so far (`sent_text` with `seq`), so a page
rendered from the database and then fed chunk seq+1 never shows text twice.

One answer's fault stays in that answer: a chunk that cannot be prepared (text
that cannot be joined or rendered) ends that answer alone (`fail`), and a
Redis command refused for one key (Redis at maxmemory refuses log appends)
does not fail the round: leases are renewed with EXPIRE, which Redis accepts
even when it refuses writes that need memory, and progress saves to the
database do not wait for Redis at all.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum
from functools import partial
from typing import Any, ParamSpec, TypeVar

import httpx
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection

from chatapp.chat import lifecycle, live
from chatapp.chat.events import WaitReason, chunk_event, conversation_group, waiting_event
from chatapp.markdown import IncrementalMarkdown, render_markdown

log = logging.getLogger(__name__)

T = TypeVar("T")
A = TypeVar("A")
P = ParamSpec("P")


class Interruption(StrEnum):
    """Why an answer's generation must end before the model is done."""

    STOP_REQUESTED = "stop_requested"  # its Stop flag: the user's Stop, or its conversation deleted
    ENDED_ELSEWHERE = "ended_elsewhere"  # its row no longer streaming: a Stop while queued, the reaper
    HANDED_BACK = "handed_back"  # this worker shuts down
    FAILED = "failed"  # its text could not be sent; `AnswerStream.failure` says why


# How often Stop is checked: well within a second, for every answer in one command.
SUPERVISE_INTERVAL = 0.3
# Threads for database writes; one batch per round needs only a few.
DB_THREADS = 8
# Threads that build answers' prompts: grounding may search a knowledge base and wait on an
# embeddings endpoint, so it never takes a thread the writes of the streams need.
PROMPT_THREADS = 8
# Threads rendering answers' HTML (within the renderer's budget, chatapp.markdown).
RENDER_THREADS = 2


class AnswerStream:
    """One answer's text on its way out, as the ticker sees it."""

    def __init__(self, message_id: int, attempt: int, conversation_id: int, on_first_text: Callable[[], None]) -> None:
        self.message_id = message_id
        self.on_first_text = on_first_text
        self.attempt = attempt
        self.group = conversation_group(conversation_id)
        self.parts: list[str] = []
        self.pending: list[str] = []
        # The text of chunks 1..seq: what a page rendered from a save may hold.
        self.sent: list[str] = []
        self.seq = 0
        self.saved_seq = 0
        self.started = time.monotonic()
        self.last_save = self.last_render = self.last_text_at = self.started
        self.first_token_at: float | None = None
        self.waiting_told = False
        self.markdown = IncrementalMarkdown()
        # A chunk waiting for its HTML, rendered in a thread: (seq, delta, html).
        self.held: tuple[int, str, asyncio.Future[str]] | None = None
        self.interruption: Interruption | None = None
        self.failure: BaseException | None = None
        self.interrupted = asyncio.Event()

    def carry_on(self, text: str) -> None:
        """Start from an answer's saved text (Continue): it is sent again as this attempt's first chunk."""
        self.parts = [text]
        self.pending = [text]
        # That chunk carries its HTML, so clients show the whole text at once.
        self.last_render = float("-inf")

    def add(self, delta: str) -> None:
        if not isinstance(delta, str):
            # Checked here too, not only at the client's edge: a non-text part
            # in the buffer would fail every later chunk of this answer.
            raise TypeError(f"answer text must be str, not {type(delta).__name__}")
        now = time.monotonic()
        if self.first_token_at is None:
            self.first_token_at = now
            self.on_first_text()
        self.last_text_at = now
        self.parts.append(delta)
        self.pending.append(delta)

    @property
    def text(self) -> str:
        if len(self.parts) > 1:
            self.parts = ["".join(self.parts)]
        return self.parts[0] if self.parts else ""

    @property
    def sent_text(self) -> str:
        """Chunks 1..seq, exactly: what is saved with `seq`."""
        if len(self.sent) > 1:
            self.sent = ["".join(self.sent)]
        return self.sent[0] if self.sent else ""

    def next_delta(self) -> str:
        """What the next chunk would carry; nothing changes until `commit`."""
        return "".join(self.pending)

    def commit(self, delta: str) -> int:
        """`delta` (from `next_delta`) is chunk seq+1 now; its number."""
        self.pending = []
        return self.mark_sent(delta)

    def hold(self, delta: str) -> None:
        """`delta` (from `next_delta`) waits for its HTML: out of `pending`, not yet sent."""
        self.pending = []

    def mark_sent(self, delta: str) -> int:
        """`delta` went out as chunk seq+1 (text that came meanwhile stays pending); its number."""
        self.sent.append(delta)
        self.seq += 1
        return self.seq

    def fail(self, error: BaseException) -> None:
        if self.failure is None:
            self.failure = error
        self.interrupt(Interruption.FAILED)

    def interrupt(self, why: Interruption) -> None:
        if self.interruption is None:
            self.interruption = why
            self.interrupted.set()


class Relay:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.streams: dict[int, AnswerStream] = {}
        self.interval = settings.STREAM_FLUSH_INTERVAL
        self.lag = 0.0
        self.saving = False
        self.next_supervise = self.next_renew = 0.0
        self.db = ThreadPoolExecutor(DB_THREADS, thread_name_prefix="answer-db")
        self.prompts = ThreadPoolExecutor(PROMPT_THREADS, thread_name_prefix="answer-prompt")
        self.renderer = ThreadPoolExecutor(RENDER_THREADS, thread_name_prefix="answer-render")
        self.thread = threading.Thread(target=self.loop.run_forever, name="answer-relay", daemon=True)
        self.thread.start()
        self.http = self.run(self._start())

    async def _start(self) -> httpx.AsyncClient:
        # Chunks are taken and sent under this lock: the log must receive them
        # in the order of their numbers.
        self.sending = asyncio.Lock()
        # Set when an answer has its first text: the next round starts at once,
        # so the time to first token does not wait for a stretched interval.
        self.wake = asyncio.Event()
        asyncio.ensure_future(self._tick_forever())
        # One TLS context and one pool for every answer's request to the model.
        return httpx.AsyncClient(verify=ssl.create_default_context(), limits=httpx.Limits(max_connections=None))

    def run(self, coroutine: Coroutine[object, None, T]) -> T:
        """Run `coroutine` on the relay's loop; blocks the calling (Celery) thread until it ends."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    # --- the database, from the loop ------------------------------------------------

    def _in_thread(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return function(*args, **kwargs)
        except (OperationalError, InterfaceError):
            connection.close()  # a dead connection must not be handed out again
            raise
        finally:
            # With a pool (PostgreSQL) hand the connection back between writes;
            # SQLite would pay a reconnect for nothing.
            if connection.settings_dict.get("OPTIONS", {}).get("pool"):
                connection.close()

    async def db_call(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.loop.run_in_executor(self.db, partial(self._in_thread, function, *args, **kwargs))

    async def prepare(self, function: Callable[[A], T], argument: A) -> T:
        """Like `run_in_db`, on the prompt threads: an answer's prompt, however long its grounding takes."""
        deadline = time.monotonic() + settings.DATABASE_RETRY_SECONDS
        pause = 0.25
        while True:
            try:
                return await self.loop.run_in_executor(self.prompts, partial(self._in_thread, function, argument))
            except (OperationalError, InterfaceError) as error:
                if time.monotonic() + pause > deadline:
                    raise
                log.warning("database unavailable (%s); retrying in %.1f s", error, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 4.0)

    async def run_in_db(self, function: Callable[..., T], *args: Any, patient: bool = False, **kwargs: Any) -> T:
        """Like `db_call`, but a database that is restarting is waited for, up to
        DATABASE_RETRY_SECONDS, or until it is back if `patient` (an answer's final save)."""
        deadline = time.monotonic() + settings.DATABASE_RETRY_SECONDS
        pause = 0.25
        while True:
            try:
                return await self.db_call(function, *args, **kwargs)
            except (OperationalError, InterfaceError) as error:
                if not patient and time.monotonic() + pause > deadline:
                    raise
                log.warning("database unavailable (%s); retrying in %.1f s", error, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 4.0)

    # --- answers ------------------------------------------------------------------

    async def release(self, message_id: int) -> None:
        try:
            await live.async_redis().delete(live.lease_key(message_id))
        except Exception as error:  # the lease expires by itself
            log.warning("could not release the lease of answer %s: %s", message_id, error)

    def stream_for(self, message_id: int, attempt: int, conversation_id: int) -> AnswerStream:
        return AnswerStream(message_id, attempt, conversation_id, on_first_text=self.wake.set)

    def register(self, stream: AnswerStream) -> None:
        self.streams[stream.message_id] = stream

    def unregister(self, stream: AnswerStream) -> None:
        self.streams.pop(stream.message_id, None)

    async def flush(self, stream: AnswerStream) -> None:
        """Send what `stream` has pending now (its last chunk), with its HTML (the text is complete)."""
        if stream.failure is not None:
            return  # a failed answer ends with the chunks it sent
        try:
            html: str | None = await self.loop.run_in_executor(self.renderer, render_markdown, stream.text)
        except Exception:
            log.exception("answer %s: its HTML could not be made; the last chunk goes without", stream.message_id)
            html = None
        while True:
            if stream.held is not None:
                await asyncio.wait({stream.held[2]})
            async with self.sending:
                if stream.failure is not None:
                    return
                if stream.held is not None and not stream.held[2].done():
                    continue  # a round took more text meanwhile, and renders it
                if not stream.pending and stream.held is None:
                    return
                pipe = live.async_redis().pipeline(transaction=False)
                try:
                    self._release_held(pipe, stream)
                    if stream.pending:
                        self._send_chunk(pipe, stream, stream.next_delta(), html)
                except Exception:
                    log.exception("answer %s: its last chunk could not be made; it is saved unsent", stream.message_id)
                    if stream.pending:
                        stream.commit(stream.next_delta())
                    return
                try:
                    await pipe.execute(raise_on_error=False)
                except Exception as error:  # the saved answer carries the text all the same
                    log.warning("could not send the last chunk of answer %s: %s", stream.message_id, error)
                return

    def _queue_chunk(self, pipe: live.Pipeline, stream: AnswerStream, now: float) -> None:
        """Queue `stream`'s next chunk on `pipe`; raises, changing nothing, if the chunk cannot be made."""
        if not self._release_held(pipe, stream):
            return  # its HTML is still being rendered: this answer's next text waits behind it
        if not stream.pending:
            return
        if now - stream.last_render >= settings.STREAM_RENDER_INTERVAL * self.load:
            # Counted as sent (and saved) only once it is in the log: a save never holds
            # text beyond the chunks a page can have received.
            delta = stream.next_delta()
            stream.hold(delta)
            stream.last_render = now
            rendering = self.loop.run_in_executor(self.renderer, stream.markdown.render, stream.sent_text + delta)
            stream.held = (stream.seq + 1, delta, rendering)
            return
        self._send_chunk(pipe, stream, stream.next_delta(), None)

    def _release_held(self, pipe: live.Pipeline, stream: AnswerStream) -> bool:
        """Send `stream`'s chunk that waited for its HTML, once rendered; False while it still waits."""
        if stream.held is None:
            return True
        seq, delta, rendering = stream.held
        if not rendering.done():
            return False
        stream.held = None
        html = None if rendering.cancelled() or rendering.exception() else rendering.result()
        self._send_chunk(pipe, stream, delta, html, seq)
        return True

    def _send_chunk(
        self, pipe: live.Pipeline, stream: AnswerStream, delta: str, html: str | None, seq: int | None = None
    ) -> None:
        """Queue a chunk on `pipe`: `delta` as the next chunk, or as chunk `seq` that waited for its HTML."""
        number = stream.seq + 1 if seq is None else seq
        # Made in full before anything is queued: a failure leaves the pipeline as it was.
        event = live.encode_event(chunk_event(stream.message_id, stream.attempt, number, delta, html))
        if seq is None:
            stream.commit(delta)
        else:
            stream.mark_sent(delta)
        live.append_chunk(pipe, stream.message_id, stream.attempt, number, delta, first=number == 1)
        live.publish_encoded(pipe, stream.group, event)

    @property
    def load(self) -> float:
        """How far the coalescing interval stretched beyond its base (1 when idle)."""
        return self.interval / settings.STREAM_FLUSH_INTERVAL

    # --- the ticker -----------------------------------------------------------------

    async def _tick_forever(self) -> None:
        while True:
            started = time.monotonic()
            try:
                async with self.sending:
                    await self._round(started)
            except Exception:
                log.exception("relay round failed")  # Redis restarting: the next round tries again
                # A restarted Redis may have lost the leases: renew them first thing.
                self.next_renew = self.next_supervise = 0.0
                await asyncio.sleep(0.5)
            spent = time.monotonic() - started
            base = settings.STREAM_FLUSH_INTERVAL
            self.interval = min(settings.STREAM_MAX_FLUSH_INTERVAL, max(base, 3 * (spent + self.lag)))
            asleep = time.monotonic()
            try:
                await asyncio.wait_for(self.wake.wait(), self.interval)
                self.lag = 0.0
            except TimeoutError:
                # Waking late means the loop is busy: a sign to coalesce more.
                self.lag = max(0.0, time.monotonic() - asleep - self.interval)
            self.wake.clear()

    async def _round(self, now: float) -> None:
        streams = list(self.streams.values())
        if not streams:
            return
        pipe = live.async_redis().pipeline(transaction=False)
        for stream in streams:
            try:
                if (stream.pending or stream.held is not None) and stream.interruption is None:
                    self._queue_chunk(pipe, stream, now)
                    stream.waiting_told = False
                elif not stream.waiting_told and now - stream.last_text_at >= settings.ANSWER_SILENCE_NOTICE:
                    stream.waiting_told = True
                    event = waiting_event(stream.message_id, WaitReason.ENGINE_SILENT, now - stream.last_text_at)
                    live.publish(pipe, stream.group, event)
            except Exception as error:
                log.exception("answer %s: its next chunk could not be made; ending it", stream.message_id)
                stream.fail(error)
        # Saved before Redis is asked anything: a Redis that refuses or hangs
        # must not stop what protects the text.
        self._save_due(now, streams)
        stop_checks: list[int] = []
        stop_index = None
        if now >= self.next_supervise:
            self.next_supervise = now + SUPERVISE_INTERVAL
            stop_checks = [stream.message_id for stream in streams]
            stop_index = len(pipe)
            pipe.mget([live.stop_key(message_id) for message_id in stop_checks])
        renewals: list[int] = []
        renew_index = len(pipe)
        if now >= self.next_renew:
            self.next_renew = now + settings.GENERATION_LEASE_SECONDS / 3
            renewals = [stream.message_id for stream in streams]
            for message_id in renewals:
                # EXPIRE needs no memory, so Redis at maxmemory still accepts it.
                pipe.expire(live.lease_key(message_id), settings.GENERATION_LEASE_SECONDS)
        if not len(pipe):
            return
        results = await pipe.execute(raise_on_error=False)
        refused = [result for result in results if isinstance(result, Exception)]
        if refused:
            log.warning("Redis refused %d of %d commands of a round: %s", len(refused), len(results), refused[0])
        if stop_index is not None and not isinstance(results[stop_index], Exception):
            for message_id, flag in zip(stop_checks, results[stop_index], strict=True):
                if flag and message_id in self.streams:
                    self.streams[message_id].interrupt(Interruption.STOP_REQUESTED)
        # A lease that is gone (new answers, a Redis that restarted empty) is set again.
        missing = [m for m, renewed in zip(renewals, results[renew_index:], strict=True) if renewed is False]
        if missing:
            lease = live.async_redis().pipeline(transaction=False)
            for message_id in missing:
                lease.set(live.lease_key(message_id), 1, ex=settings.GENERATION_LEASE_SECONDS)
            for result in await lease.execute(raise_on_error=False):
                if isinstance(result, Exception):
                    log.warning("could not take a lease: %s", result)

    def _save_due(self, now: float, streams: list[AnswerStream]) -> None:
        if self.saving:
            return
        alive_every = settings.GENERATION_LEASE_SECONDS / 3
        due = [
            s
            for s in streams
            if s.seq > s.saved_seq
            and now - s.last_save >= settings.STREAM_SAVE_INTERVAL
            or now - s.last_save >= alive_every
        ]
        if due:
            self.saving = True
            asyncio.ensure_future(self._save(due, now))

    async def _save(self, due: list[AnswerStream], now: float) -> None:
        batch = [
            lifecycle.Progress(
                stream.message_id, stream.sent_text if stream.seq > stream.saved_seq else None, stream.seq
            )
            for stream in due
        ]
        try:
            ended = await self.db_call(lifecycle.save_progress, batch)
        except DatabaseError as error:
            log.warning("saving partial answers failed (%s); trying again next round", error)
            return
        finally:
            self.saving = False
        for stream, progress in zip(due, batch, strict=True):
            stream.saved_seq, stream.last_save = progress.seq, now
            if stream.message_id in ended:
                stream.interrupt(Interruption.ENDED_ELSEWHERE)

    # --- shutdown -------------------------------------------------------------------

    def hand_back_after(self, grace: float) -> None:
        """At shutdown: answers still running after `grace` seconds are handed back."""
        self.loop.call_soon_threadsafe(self.loop.call_later, grace, self._hand_back_all)

    def _hand_back_all(self) -> None:
        for stream in list(self.streams.values()):
            stream.interrupt(Interruption.HANDED_BACK)


_relay: Relay | None = None
_relay_lock = threading.Lock()


def relay() -> Relay:
    """This process's relay, started on first use."""
    global _relay
    with _relay_lock:
        if _relay is None:
            _relay = Relay()
        return _relay


def running_relay() -> Relay | None:
    return _relay
