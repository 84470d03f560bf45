"""Relay figures: what the worker and the web process cost per token, and what a reader gets.

    python -m benchmarks.relay                      # the full matrix (a few minutes)
    python -m benchmarks.relay --quick              # 1 and 10 streams at 50 tokens/s
    python -m benchmarks.relay --streams 1,10 --rates 50 --answer-tokens 200
    python -m benchmarks.relay --workers 2 --webs 2 # scale out: clients of a conversation on both web processes
    python -m benchmarks.relay --server daphne,uvicorn  # the same app served by each, rows side by side
    python -m benchmarks.relay --streams 100 --rates 50 --knowledge 20   # the knowledge base at work meanwhile

With --knowledge N every app row runs twice in the same run: once alone, once
while, a second after the streams start, an FAQ entry is saved (the index is
rebuilt, its embeddings computed by the real CPU model service's
/v1/embeddings in a Celery task) and N other people ask the Team FAQ bot
questions of the shipped evaluation file. The streams' figures of both rows
compare directly; the knowledge-base answers' own times are printed apart.

An OpenAI-compatible engine (benchmarks/fake_engine.py) streams a known text at a
set rate per stream. The real Celery worker (threads pool, as in supervisord.conf)
relays it through Redis to the real daphne, and websocket clients that behave
like static/chat/chat.js (session cookie, `send`, numbered chunks with gap
detection and `resume`, the final `message`) read it. For every number of
streams and rate the same clients also read the engine directly over HTTP, in
the same run: that row is the baseline the app's row compares with.

Figures per row (each row is cut after twice the answer's time plus 10 s;
what is still streaming then is stopped and counts as not finished):
- delivered / engine rate: per reader, the tokens it had over the time from the
  engine's first token to the reader having the whole text (or to the cut),
  against the engine's own rate for that stream (its first to its last token);
  median and p10;
- time to first token added: the reader's first text after sending, less the
  engine's own first-token time for that request (p50 and p99; "> T" when
  readers had no text by the cut);
- CPU seconds per 1,000 tokens relayed (the tokens the senders had by the cut,
  each answer counted once however many readers it has), for the worker and the
  web process (summed over processes; in brackets the cores they kept busy),
  the engine and the clients; peak RSS per process;
- chunks per answer (median over the answers finished in time) as the
  sender's socket received them; read directly: network reads;
- lost/doubled characters: each reader's final text against the engine's
  (against its text so far for an answer that was stopped), plus any chunk
  whose text did not continue the engine's text: must be 0;
- finished: readers that had the whole text by the cut;
- others' load: the machine's busy cores during the row not used by this run's
  processes (the machine may be shared: read ratios, not absolute figures).
  The local Redis server counts as this run's (the JSON has its CPU apart; it
  may serve others too).
"""

import argparse
import asyncio
import difflib
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import httpx
import psutil

from benchmarks.fake_engine import EngineProcess, answer_text
from benchmarks.stack import Processes, benchmark_environment, free_port, migrate, wait_for
from chatapp.chat.chunks import Answer, Step

ACTIVE = {"queued", "streaming"}
STALL_SECONDS = 5  # as chat.js: an answer quiet this long is asked for what is missing
MODEL = "relay-bench"


# --- what one stream is and what a reader saw ----------------------------------------


@dataclass
class Stream:
    seed: int
    tokens: int
    rate: float
    conversation_id: int = 0
    sent_at: float | None = None

    @property
    def question(self) -> str:
        return f"Relay benchmark: seed={self.seed} tokens={self.tokens} rate={self.rate:g}"

    @cached_property
    def expected(self) -> str:
        return answer_text(self.seed, self.tokens)


@dataclass
class KnowledgeQuestion(Stream):
    """A question to the Team FAQ bot: its answer is the knowledge base's, not the engine's."""

    text: str = ""

    @property
    def question(self) -> str:
        return self.text

    @cached_property
    def expected(self) -> str:
        return ""


@dataclass
class Reading:
    """What one reader of a stream saw, and when (time.monotonic())."""

    stream: Stream
    text: str = ""
    first_at: float | None = None
    complete_at: float | None = None
    final_at: float | None = None
    final_status: str | None = None
    chunks: int = 0
    gaps: int = 0
    stale: int = 0
    streamed_bad: int = 0  # characters of chunks that did not continue the engine's text
    reconnects: int = 0
    errors: list = field(default_factory=list)
    tokens_seen: int = 0  # read directly: token events seen as they arrived
    share_at_cut: float = 0.0  # the part of the answer the reader had when the row was cut
    chunks_at_cut: int = 0

    def cut(self, direct: bool = False) -> None:
        if direct:
            self.share_at_cut = self.tokens_seen / self.stream.tokens
        else:
            self.share_at_cut = len(self.text) / max(len(self.stream.expected), 1)
        self.chunks_at_cut = self.chunks

    def grew(self, now: float) -> None:
        if self.text and self.first_at is None:
            self.first_at = now
        if self.complete_at is None and self.text == self.stream.expected:
            self.complete_at = now

    def append(self, delta: str, now: float) -> None:
        expected = self.stream.expected
        start = len(self.text)
        if expected[start : start + len(delta)] != delta:
            self.streamed_bad += len(delta)
        self.text += delta
        self.grew(now)


class Reader:
    """One websocket client of a conversation, keeping its answer as chat.js does."""

    def __init__(self, stream: Stream, url: str, cookie: str, sender: bool) -> None:
        self.stream = stream
        self.url = url
        self.cookie = cookie
        self.sender = sender
        self.reading = Reading(stream)
        self.socket = None
        self.opened = asyncio.Event()
        self.closing = False
        self.message_id = None
        self.answer = Answer()
        self.last_chunk_at = time.monotonic()

    @property
    def active(self) -> bool:
        return self.reading.final_at is None

    async def run(self, gate: asyncio.Semaphore) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import WebSocketException

        origin = self.url.replace("ws://", "http://").split("/ws/")[0]
        while not self.closing:
            try:
                async with gate:
                    # Like a browser: no keepalive pings of its own, compression offered.
                    socket = await connect(
                        self.url,
                        origin=origin,
                        additional_headers={"Cookie": self.cookie},
                        ping_interval=None,
                        max_size=2**22,
                        open_timeout=60,
                    )
                    self.socket = socket
                    await self.request({"type": "open", "conversation_id": self.stream.conversation_id})
                    if self.message_id is not None and self.active:
                        await self.resume()
                async with socket:
                    async for raw in socket:
                        self.receive(json.loads(raw), time.monotonic())
            except (TimeoutError, OSError, WebSocketException):
                pass
            if not self.closing:
                self.reading.reconnects += 1
                await asyncio.sleep(0.5)

    async def close(self) -> None:
        self.closing = True
        if self.socket is not None:
            await self.socket.close()

    async def request(self, payload: dict) -> None:
        try:
            await self.socket.send(json.dumps(payload))
        except Exception:  # a closed socket: the reconnect resumes
            pass

    async def send_question(self) -> None:
        self.stream.sent_at = time.monotonic()
        await self.request(
            {
                "type": "send",
                "ref": f"r{self.stream.seed}",
                "conversation_id": self.stream.conversation_id,
                "text": self.stream.question,
            }
        )

    async def resume(self) -> None:
        self.last_chunk_at = time.monotonic()
        await self.request(self.answer.resume(self.message_id))

    async def stop(self) -> None:
        if self.message_id is not None:
            await self.request({"type": "stop", "message_id": self.message_id})

    def receive(self, data: dict, now: float) -> None:
        try:
            self.handle(data, now)
        except (KeyError, TypeError, ValueError) as error:  # a frame chat.js could not read either
            self.reading.errors.append(f"unreadable {data.get('type')!r} frame: {error!r}")

    def handle(self, data: dict, now: float) -> None:
        kind = data.get("type")
        if kind == "chunk":
            self.apply_chunk(data, now)
        elif kind == "message":
            self.upsert(data.get("message") or {}, now)
        elif kind == "opened":
            self.opened.set()
        elif kind == "error":
            self.reading.errors.append(data.get("error"))

    def upsert(self, message: dict, now: float) -> None:
        if message.get("role") != "assistant" or message.get("conversation_id") != self.stream.conversation_id:
            return
        if self.message_id is None:
            self.message_id = message["id"]
        elif message["id"] != self.message_id:
            return
        if not self.answer.apply_message(message):
            return  # older than what this reader has
        self.last_chunk_at = now
        reading = self.reading
        # The saved message replaces what the page shows.
        reading.text = self.answer.text
        reading.grew(now)
        if not self.answer.active:
            reading.final_at, reading.final_status = now, self.answer.status

    def apply_chunk(self, chunk: dict, now: float) -> None:
        if self.message_id is None or chunk.get("message_id") != self.message_id:
            return
        reading = self.reading
        reading.chunks += 1
        step = self.answer.apply_chunk(chunk)
        reading.stale += step is Step.DUPLICATE
        reading.gaps += step is Step.GAP
        if step.needs_resume:
            asyncio.ensure_future(self.resume())
        if step is Step.APPLIED:
            self.last_chunk_at = now
            reading.append(chunk["delta"], now)


# --- the processes and their CPU ----------------------------------------------------


class Monitor:
    """CPU and peak RSS of this run's processes, by role, and the machine's other load."""

    def __init__(self, roles: dict[str, list]) -> None:
        self.roles = {
            role: [psutil.Process(p.pid if hasattr(p, "pid") else p) for p in processes]
            for role, processes in roles.items()
        }
        for role, processes in self.roles.items():
            if role != "clients":  # the clients' process is the parent of all the others
                for process in list(processes):
                    processes.extend(process.children(recursive=True))
        self.peaks: dict[str, float] = {}
        self.sampling = False

    def cpu(self) -> dict:
        figures = {}
        for role, processes in self.roles.items():
            total = 0.0
            for process in processes:
                try:
                    times = process.cpu_times()
                    total += times.user + times.system
                except psutil.Error:
                    pass
            figures[role] = total
        machine = psutil.cpu_times()
        figures["machine"] = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
        figures["at"] = time.monotonic()
        return figures

    async def sample_rss(self) -> None:
        self.peaks = {role: 0.0 for role in self.roles}
        self.sampling = True
        while self.sampling:
            for role, processes in self.roles.items():
                for process in processes:
                    try:
                        self.peaks[role] = max(self.peaks[role], process.memory_info().rss / 2**20)
                    except psutil.Error:
                        pass
            await asyncio.sleep(0.25)


def spent(before: dict, after: dict) -> dict:
    return {role: after[role] - before[role] for role in before}


# --- one row: the app, or the engine read directly --------------------------------

# Questions are sent spread over this many seconds (--ramp); 0 sends them all at once.
RAMP_SECONDS = 0.0


async def sleep_until(moment: float) -> None:
    delay = moment - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


async def read_through_app(
    streams: list[Stream], web_urls: list[str], cookies: list[str], monitor: Monitor, deadline_s: float, watchers: int
) -> tuple:
    """Every stream asked through the app at once; returns (readings, CPU spent, peak RSS, start, cut)."""
    gate = asyncio.Semaphore(25)  # connect in waves: a listen backlog is finite
    senders, readers = [], []
    for index, stream in enumerate(streams):
        sender = Reader(stream, web_urls[index % len(web_urls)], cookies[index], sender=True)
        senders.append(sender)
        readers.append(sender)
        for extra in range(watchers):
            readers.append(Reader(stream, web_urls[(index + extra + 1) % len(web_urls)], cookies[index], sender=False))
    tasks = [asyncio.ensure_future(reader.run(gate)) for reader in readers]
    await asyncio.wait_for(asyncio.gather(*(reader.opened.wait() for reader in readers)), 120)

    before = monitor.cpu()
    sampler = asyncio.ensure_future(monitor.sample_rss())
    started = time.monotonic()
    for index, sender in enumerate(senders):
        await sleep_until(started + index * RAMP_SECONDS / len(senders))
        await sender.send_question()
    deadline = started + deadline_s
    while any(reader.active for reader in readers) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        now = time.monotonic()
        for reader in readers:
            if reader.active and reader.message_id is not None and now - reader.last_chunk_at > STALL_SECONDS:
                await reader.resume()
    after = monitor.cpu()
    cut_at = time.monotonic()
    for reader in readers:
        reader.reading.cut()
    monitor.sampling = False
    await sampler

    unfinished = [sender for sender in senders if sender.active]
    for sender in unfinished:
        await sender.stop()
    drain = time.monotonic() + 30
    while any(reader.active for reader in readers) and time.monotonic() < drain:
        await asyncio.sleep(0.2)
    for reader in readers:
        await reader.close()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return [reader.reading for reader in readers], spent(before, after), dict(monitor.peaks), started, cut_at


async def knowledge_load(
    questions: list[KnowledgeQuestion], web_urls: list[str], cookies: list[str], save_entry, deadline_s: float
) -> dict:
    """A second after the streams start: an entry saved, then `questions` asked; their answer times."""
    await asyncio.sleep(1.0)
    saved = time.monotonic()
    await asyncio.to_thread(save_entry)
    saved = time.monotonic() - saved
    gate = asyncio.Semaphore(25)
    readers = [
        Reader(question, web_urls[index % len(web_urls)], cookies[index], sender=True)
        for index, question in enumerate(questions)
    ]
    tasks = [asyncio.ensure_future(reader.run(gate)) for reader in readers]
    await asyncio.wait_for(asyncio.gather(*(reader.opened.wait() for reader in readers)), 120)
    for reader in readers:
        await reader.send_question()
    deadline = time.monotonic() + deadline_s
    while any(reader.active for reader in readers) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    for reader in readers:
        await reader.close()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    answered = sorted(
        reader.reading.final_at - reader.stream.sent_at
        for reader in readers
        if reader.reading.final_at is not None and reader.stream.sent_at is not None
    )
    return {"save_seconds": saved, "answer_seconds": answered, "asked": len(readers)}


# The engine's own event format: enough to timestamp reads without parsing them.
TOKEN_MARK = b'"delta":{"content":'
FINISH_MARK = b'"finish_reason":"'


def sse_text(raw: bytes) -> tuple[str, int]:
    """The text and the number of token events in an OpenAI-style event stream."""
    from httpx_sse import EventSource

    response = httpx.Response(200, headers={"content-type": "text/event-stream"}, content=raw)
    text, events = [], 0
    for sse in EventSource(response).iter_sse():
        if not sse.data or sse.data == "[DONE]":
            continue
        for choice in json.loads(sse.data).get("choices") or ():
            delta = (choice.get("delta") or {}).get("content")
            if delta:
                text.append(delta)
                events += 1
    return "".join(text), events


async def read_directly(streams: list[Stream], engine_url: str, monitor: Monitor, deadline_s: float) -> tuple:
    """The engine's streams read over HTTP with no app between: what this machine
    and this load generator deliver by themselves. The reader only timestamps
    the bytes as they come; the events are parsed once a stream has ended."""
    readings = [Reading(stream) for stream in streams]
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=len(streams))

    start = time.monotonic()

    async def read(client, reading, index):
        await sleep_until(start + index * RAMP_SECONDS / len(readings))
        stream = reading.stream
        payload = {
            "model": MODEL,
            "messages": [{"role": "user", "content": stream.question}],
            "max_tokens": stream.tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        received = []
        stream.sent_at = time.monotonic()
        try:
            async with client.stream(
                "POST", f"{engine_url}/chat/completions", json=payload, timeout=deadline_s
            ) as response:
                async for data in response.aiter_raw():
                    now = time.monotonic()
                    received.append(data)
                    seen = data.count(TOKEN_MARK)
                    reading.tokens_seen += seen
                    if reading.first_at is None and seen:
                        reading.first_at = now
                    if FINISH_MARK in data:
                        reading.complete_at = now
            reading.final_status = "done"
        except httpx.HTTPError as error:
            reading.errors.append(repr(error))
            reading.final_status = "error"
        reading.final_at = time.monotonic()
        finished_at = reading.complete_at
        reading.append(sse_text(b"".join(received))[0], reading.final_at)
        reading.complete_at = finished_at if reading.text == stream.expected else None
        reading.chunks = len(received)  # network reads

    async with httpx.AsyncClient(limits=limits) as client:
        before = monitor.cpu()
        sampler = asyncio.ensure_future(monitor.sample_rss())
        started = time.monotonic()
        tasks = [asyncio.ensure_future(read(client, reading, index)) for index, reading in enumerate(readings)]
        done, pending = await asyncio.wait(tasks, timeout=deadline_s)
        after = monitor.cpu()
        cut_at = time.monotonic()
        for reading in readings:
            reading.cut(direct=True)
        monitor.sampling = False
        await sampler
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return readings, spent(before, after), dict(monitor.peaks), started, cut_at


# --- figures ------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float | None:
    values = sorted(values)
    if not values:
        return None
    index = fraction * (len(values) - 1)
    low = int(index)
    high = min(low + 1, len(values) - 1)
    if values[high] == float("inf"):
        return float("inf") if index > low or values[low] == float("inf") else values[low]
    return values[low] + (values[high] - values[low]) * (index - low)


def mismatch(final: str, expected: str, finished: bool) -> int:
    """Characters lost or doubled: against the whole text when the answer finished,
    against the engine's text so far when it was cut (a stop, the row's deadline)."""
    if final == expected:
        return 0
    if not finished:
        common = len(os.path.commonprefix([final, expected]))
        return len(final) - common
    matched = sum(
        block.size for block in difflib.SequenceMatcher(None, final, expected, autojunk=False).get_matching_blocks()
    )
    return len(final) + len(expected) - 2 * matched


def figures(
    label: str,
    readings: list[Reading],
    cpu: dict,
    peaks: dict,
    started: float,
    cut_at: float,
    engine_log: dict,
    rate: float,
    count: int,
) -> dict:
    """One row of the table from what the readers saw and what the engine logged."""
    ratios, added, queue_waits, chunks, engine_rates = [], [], [], [], []
    bad = finished = no_first_token = 0
    relayed = 0.0  # tokens the streams' first readers had by the cut
    counted = set()
    for reading in readings:
        stream = reading.stream
        record = engine_log.get(str(stream.seed))
        in_time = reading.complete_at is not None and reading.complete_at <= cut_at
        done = reading.final_status == "done" and reading.complete_at is not None
        finished += in_time
        bad += reading.streamed_bad + mismatch(reading.text, stream.expected, done)
        if reading.first_at is None or reading.first_at > cut_at:
            no_first_token += 1
        if record is None or record["first"] is None:
            ratios.append(0.0)
            continue
        tokens = record["tokens"]
        delivered_tokens = tokens if in_time else tokens * min(reading.share_at_cut, 1.0)
        if stream.seed not in counted:
            counted.add(stream.seed)
            relayed += delivered_tokens
        engine_span = record["last"] - record["first"]
        engine_rate = (tokens - 1) / engine_span if engine_span > 0 else float("inf")
        engine_rates.append(engine_rate)
        queue_waits.append(record["arrived"] - stream.sent_at)
        if in_time:
            chunks.append(reading.chunks_at_cut)
        if reading.first_at is not None and reading.first_at <= cut_at:
            added.append((reading.first_at - stream.sent_at) - (record["first"] - record["arrived"]))
        # From the engine's first token to the reader's last: a relay that falls
        # behind stretches it, and a late first token alone does not shorten it.
        span = (reading.complete_at if in_time else cut_at) - record["first"]
        delivered = max(delivered_tokens - 1, 0) / span if span > 0 else float("inf")
        ratios.append(min(delivered / engine_rate, 99.0) if engine_rate else 0.0)
    # Readers with no text by the cut wait longer than anyone measured.
    added += [float("inf")] * no_first_token
    wall = cut_at - started
    ours = sum(value for role, value in cpu.items() if role not in ("machine", "at"))
    per_1k = {
        role: (cpu[role] / (relayed / 1000) if relayed else None) for role in cpu if role not in ("machine", "at")
    }
    return {
        "path": label,
        "streams": count,
        "rate": rate,
        "readers": len(readings),
        "finished": finished,
        "engine_rate_median": statistics.median(engine_rates) if engine_rates else None,
        "delivered_ratio_median": statistics.median(ratios) if ratios else None,
        "delivered_ratio_p10": percentile(ratios, 0.10),
        "ttft_added_p50": percentile(added, 0.50),
        "ttft_added_p99": percentile(added, 0.99),
        "no_first_token": no_first_token,
        "queue_to_engine_p50": percentile(queue_waits, 0.50),
        "chunks_median": statistics.median(chunks) if chunks else None,
        "gaps": sum(reading.gaps for reading in readings),
        "reconnects": sum(reading.reconnects for reading in readings),
        "errors": sorted({str(error) for reading in readings for error in reading.errors})[:5],
        "lost_or_doubled_chars": bad,
        "tokens_relayed": round(relayed),
        "wall_s": wall,
        "cpu_s": {role: value for role, value in cpu.items() if role not in ("machine", "at")},
        "cpu_s_per_1k_tokens": per_1k,
        "peak_rss_mib": peaks,
        "others_load_cores": max(cpu["machine"] - ours, 0.0) / wall if wall > 0 else None,
    }


COLUMNS = [
    ("path", "path"),
    ("streams", "streams"),
    ("tok/s", "rate"),
    ("delivered/engine p50", "delivered_ratio_median"),
    ("p10", "delivered_ratio_p10"),
    ("TTFT added p50 ms", "ttft_added_p50"),
    ("p99 ms", "ttft_added_p99"),
    ("worker CPU s/1k tok (cores)", ("cpu_s_per_1k_tokens", "worker")),
    ("web CPU s/1k tok (cores)", ("cpu_s_per_1k_tokens", "web")),
    ("chunks/answer", "chunks_median"),
    ("worker RSS MiB", ("peak_rss_mib", "worker")),
    ("web RSS MiB", ("peak_rss_mib", "web")),
    ("lost/doubled chars", "lost_or_doubled_chars"),
    ("finished", "finished"),
    ("engine CPU s/1k", ("cpu_s_per_1k_tokens", "engine")),
    ("clients CPU s/1k", ("cpu_s_per_1k_tokens", "clients")),
    ("others' load (cores)", "others_load_cores"),
]


def cell(row: dict, key) -> str:
    value = row.get(key[0], {}).get(key[1]) if isinstance(key, tuple) else row.get(key)
    if value is None:
        return "–"
    if key == "finished":
        return f"{value}/{row['readers']}"
    if key in ("ttft_added_p50", "ttft_added_p99"):
        return f"> {row['wall_s'] * 1000:.0f}" if value == float("inf") else f"{value * 1000:.0f}"
    if isinstance(key, tuple) and key[0] == "peak_rss_mib":
        return f"{value:.0f}"
    if isinstance(key, tuple) and key[1] in ("worker", "web"):
        return f"{value:.3f} ({row['cpu_s'][key[1]] / row['wall_s']:.2f})"
    if isinstance(key, tuple):
        return f"{value:.3f}"
    if key in ("rate", "chunks_median"):
        return f"{value:g}"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def finite(value):
    """JSON has no infinity: a first token that never came by the cut is null."""
    if isinstance(value, float) and value == float("inf"):
        return None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [finite(item) for item in value]
    return value


def table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(title for title, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        lines.append("| " + " | ".join(cell(row, key) for _, key in COLUMNS) + " |")
    return "\n".join(lines)


def targets(rows: list[dict]) -> list[str]:
    """The relay's targets, checked against the rows of one app path (first served)."""
    app_rows = [row for row in rows if row["path"].startswith("app")]
    if not app_rows:
        return []
    path = app_rows[0]["path"]
    found = {(row["streams"], row["rate"]): row for row in app_rows if row["path"] == path}
    lines = []

    def check(name, row, value, limit, higher_is_better, unit=""):
        if row is None or value is None:
            return
        met = value >= limit if higher_is_better else value <= limit
        if value == float("inf"):
            shown = "no text by the cut"
        else:
            shown = f"{value * 1000:.0f} ms" if unit == "ms" else f"{value:.3f}"
        bound = f"{limit * 1000:.0f} ms" if unit == "ms" else f"{limit:g}"
        lines.append(f"- {name}: {shown} ({'≥' if higher_is_better else '≤'} {bound}: {'met' if met else 'not met'})")

    hundred, two_hundred = found.get((100, 50.0)), found.get((200, 50.0))
    check(
        "100 streams at 50 tok/s, delivered/engine p50",
        hundred,
        hundred and hundred["delivered_ratio_median"],
        0.95,
        True,
    )
    check(
        "100 streams at 50 tok/s, delivered/engine p10", hundred, hundred and hundred["delivered_ratio_p10"], 0.9, True
    )
    check(
        "200 streams at 50 tok/s, delivered/engine p50",
        two_hundred,
        two_hundred and two_hundred["delivered_ratio_median"],
        0.9,
        True,
    )
    # CPU per token at the most streams the relay carried whole (an overloaded
    # row spends CPU on tokens it has not delivered yet).
    fast_rows = [row for (count, rate), row in found.items() if rate == 200.0]
    carried = [row for row in fast_rows if row["finished"] == row["readers"]]
    fast = max(carried or fast_rows, key=lambda row: row["streams"], default=None)
    if fast is not None:
        label = f"{fast['streams']} streams at 200 tok/s"
        check(f"{label}, worker CPU s/1k tokens", fast, fast["cpu_s_per_1k_tokens"].get("worker"), 0.05, False)
        check(f"{label}, web CPU s/1k tokens", fast, fast["cpu_s_per_1k_tokens"].get("web"), 0.05, False)
    check("100 streams, first token added p50", hundred, hundred and hundred["ttft_added_p50"], 0.030, False, "ms")
    check("100 streams, first token added p99", hundred, hundred and hundred["ttft_added_p99"], 0.150, False, "ms")
    lost = sum(row["lost_or_doubled_chars"] for row in rows)
    lines.append(f"- lost or doubled characters, all rows: {lost} (must be 0: {'met' if lost == 0 else 'NOT MET'})")
    return [f"Targets, {path}:"] + lines


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    memory = psutil.virtual_memory().total / 2**30
    return f"{psutil.cpu_count()} cores ({model}), {memory:.0f} GiB, Python {platform.python_version()}; load average at start {load}"


# --- the run --------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.prefix = f"relaybench-{os.getpid()}"
        self.seed = 0
        max_tokens = max(512, args.answer_tokens)
        self.engine_port = free_port()
        self.engine_url = f"http://127.0.0.1:{self.engine_port}/v1"
        self.env = benchmark_environment(
            self.prefix,
            INFERENCE_URL=self.engine_url,
            INFERENCE_MODEL=MODEL,
            INFERENCE_MAX_TOKENS=str(max_tokens),
            INFERENCE_CONTEXT_TOKENS=str(max_tokens + 2048),
        )
        self.processes = Processes(self.env)
        self.workers = []
        self.webs: dict[str, list] = {}  # server -> its processes
        self.web_urls: dict[str, list[str]] = {}
        self.redis_pid = None

    def start(self) -> None:
        args = self.args
        self.processes.ensure_redis()
        self.redis_pid = self.find_redis()
        migrate(self.env)
        os.environ.update(self.env)
        import django

        django.setup()
        engine_env = {**self.env, "FAKE_ENGINE_TICK": str(args.engine_tick)}
        self.engine = EngineProcess(
            self.engine_port, env=engine_env, options=("--backlog", "4096"), output=self.processes.log
        )
        self.processes.adopt(self.engine.process)
        if args.direct_only:
            return
        if args.knowledge:
            from django.core.management import call_command

            call_command("load_sample_faq", "--if-empty", verbosity=0)
            port = free_port()
            # The real CPU model service, for its /v1/embeddings (the fake engine has none).
            self.embeddings = self.processes.start("-m", "inference", "--port", str(port), "--threads", "1")
            wait_for(f"http://127.0.0.1:{port}/health", process=self.embeddings, timeout=120)
            self.env["FAQ_EMBEDDINGS_URL"] = f"http://127.0.0.1:{port}/v1"
        concurrency = max(200, max(args.streams))
        names = [f"relay{index}-{os.getpid()}@bench" for index in range(args.workers)]
        self.workers = [
            self.processes.start_worker(self.prefix, concurrency, name=name, loglevel="INFO") for name in names
        ]
        for server in args.server:
            for _ in range(args.webs):
                port = free_port()
                self.webs.setdefault(server, []).append(self.processes.start_web(port, server=server))
                self.web_urls.setdefault(server, []).append(f"ws://127.0.0.1:{port}/ws/chat/")
        self.wait_for_workers(names)
        self.cookies = self.sign_in(max(*args.streams, args.webs, 2) + args.knowledge)

    def wait_for_workers(self, names) -> None:
        from chatapp.celery import app

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            for worker in self.workers:
                if worker.poll() is not None:
                    raise RuntimeError(
                        f"a worker exited with {worker.returncode}; see {self.env['DATA_DIR']}/processes.log"
                    )
            replies = app.control.ping(destination=names, timeout=1.0) or []
            if len(replies) >= len(names):
                return
        raise RuntimeError("the workers did not come up")

    def sign_in(self, count: int) -> list[str]:
        """One user per stream, each signed in with a session cookie (as after the login form)."""
        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.test import Client

        cookies = []
        for index in range(count):
            user, created = get_user_model().objects.get_or_create(username=f"relay-{index}")
            if created:
                user.set_unusable_password()
                user.save()
            client = Client()
            client.force_login(user)
            cookies.append(f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}")
        self.users = [get_user_model().objects.get(username=f"relay-{index}") for index in range(count)]
        return cookies

    def streams(self, count: int, rate: float, tokens: int, conversations: bool) -> list[Stream]:
        streams = []
        for _ in range(count):
            self.seed += 1
            streams.append(Stream(seed=self.seed, tokens=tokens, rate=rate))
        if conversations:
            from chatapp.chat.models import Conversation

            made = Conversation.objects.bulk_create(
                [Conversation(owner=self.users[index], title="Relay benchmark") for index in range(count)]
            )
            for stream, conversation in zip(streams, made, strict=False):
                stream.conversation_id = conversation.pk
        return streams

    def knowledge_questions(self, count: int) -> list[KnowledgeQuestion]:
        """`count` questions of the shipped evaluation file, each from a user of its own, to the Team FAQ bot."""
        from chatapp.chat.models import Bot, Conversation
        from chatapp.faq.evaluation import read_cases

        data = Path(__file__).resolve().parent.parent / "chatapp" / "faq" / "data" / "sample_eval.jsonl"
        cases = [case for case in read_cases(data.read_text(encoding="utf-8").splitlines()) if not case.context]
        bot = Bot.objects.get(slug="team-faq")
        users = self.users[-count:]
        made = Conversation.objects.bulk_create(
            [Conversation(owner=user, bot=bot, title="Knowledge benchmark") for user in users]
        )
        questions = []
        for index, conversation in enumerate(made):
            self.seed += 1
            questions.append(
                KnowledgeQuestion(
                    seed=self.seed,
                    tokens=0,
                    rate=0,
                    conversation_id=conversation.pk,
                    text=cases[index % len(cases)].question,
                )
            )
        return questions

    def save_entry(self) -> None:
        """What an editor does in the admin: an entry's phrasings changed and saved."""
        from django.db import close_old_connections

        from chatapp.faq.models import FAQEntry

        entry = FAQEntry.objects.order_by("id").first()
        entry.phrasings = (entry.phrasings + f"\nBenchmark phrasing {self.seed}").strip()
        entry.save()
        close_old_connections()

    def engine_log(self) -> dict:
        return self.engine.take_log()

    def monitor(self, server: str | None) -> Monitor:
        roles = {"engine": [self.engine.process], "clients": [os.getpid()]}
        if server:
            roles = {"worker": self.workers, "web": self.webs[server], **roles}
        if self.redis_pid:
            roles["redis"] = [self.redis_pid]
        return Monitor(roles)

    def find_redis(self) -> int | None:
        """The Redis server's process, when it runs on this machine (it may serve others too)."""
        from urllib.parse import urlparse

        parsed = urlparse(self.env["REDIS_URL"])
        if parsed.hostname not in ("127.0.0.1", "localhost", "::1"):
            return None
        try:
            for connection in psutil.net_connections(kind="tcp"):
                if connection.status == psutil.CONN_LISTEN and connection.laddr.port == (parsed.port or 6379):
                    return connection.pid
        except psutil.Error:
            pass
        return None

    def wait_until_idle(self, timeout: float = 60) -> bool:
        from chatapp.chat.models import Message

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not Message.objects.filter(status__in=ACTIVE).exists():
                return True
            time.sleep(0.25)
        return False

    def settle(self, monitor: Monitor, timeout: float = 30) -> bool:
        """Wait until the worker and web processes are idle: a web process may
        still be working through what it was sent after the answers ended."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            before = monitor.cpu()
            time.sleep(0.5)
            after = monitor.cpu()
            busy = sum(after[role] - before[role] for role in ("worker", "web")) / (after["at"] - before["at"])
            if busy < 0.15:
                return True
        return False

    def deadline(self, rate: float, tokens: int) -> float:
        if self.args.max_seconds:
            return self.args.max_seconds
        return 2 * tokens / rate + 10 + self.args.ramp

    def app_label(self, server: str) -> str:
        workers = f"{self.args.workers} worker{'s' * (self.args.workers > 1)}"
        return f"app ({server}, {workers}, {self.args.webs} web)"

    def row(self, count: int, rate: float, server: str | None, knowledge: int = 0) -> dict:
        """One row: through the app served by `server`, or the engine read directly (None).

        `knowledge`: that many Team FAQ questions, and an entry saved, while the streams run.
        """
        tokens = self.args.answer_tokens
        streams = self.streams(count, rate, tokens, conversations=bool(server))
        limit = self.deadline(rate, tokens)
        monitor = self.monitor(server)
        load = None
        if server:
            urls = self.web_urls[server]
            reading = read_through_app(streams, urls, self.cookies, monitor, limit, self.args.watchers)
            if knowledge:
                questions = self.knowledge_questions(knowledge)

                async def both():
                    return await asyncio.gather(
                        reading,
                        knowledge_load(questions, urls, self.cookies[-knowledge:], self.save_entry, limit),
                    )

                result, load = asyncio.run(both())
            else:
                result = asyncio.run(reading)
            label = self.app_label(server) + (f" + {knowledge} FAQ questions, an entry saved" if knowledge else "")
        else:
            result = asyncio.run(read_directly(streams, self.engine_url, monitor, limit))
            label = "engine direct (no app)"
        readings, cpu, peaks, started, cut_at = result
        if server and not (self.wait_until_idle() and self.settle(monitor)):
            print("  (the app was still busy after the row; the next row shares it)", file=sys.stderr)
        row = figures(label, readings, cpu, peaks, started, cut_at, self.engine_log(), rate, count)
        if load is not None:
            answered = load["answer_seconds"]
            print(
                f"  knowledge base meanwhile: entry saved in {load['save_seconds'] * 1000:.0f} ms; "
                f"{len(answered)} of {load['asked']} questions answered, "
                + (
                    f"median {statistics.median(answered):.2f} s, max {answered[-1]:.2f} s from sending"
                    if answered
                    else "none in time"
                ),
                file=sys.stderr,
                flush=True,
            )
            row["knowledge"] = load
        return row

    def warm_up(self) -> None:
        """A few short answers through every process, so no row pays for first imports or connections."""
        for server, urls in self.web_urls.items():
            self.row(max(2, len(urls)), 200, server)
        self.row(2, 200, None)

    def stop(self) -> None:
        self.processes.stop()
        try:
            import redis

            client = redis.Redis.from_url(self.env["REDIS_URL"])
            keys = list(client.scan_iter(match=f"*{self.prefix}*", count=1000))
            if keys:
                client.delete(*keys)
        except Exception as error:
            print(f"could not clear this run's Redis keys: {error}", file=sys.stderr)


def numbers(text: str, kind: type) -> list:
    return [kind(part) for part in text.split(",") if part.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--streams",
        type=lambda text: numbers(text, int),
        default=[1, 10, 50, 100, 200],
        help="streams at once, comma-separated (default 1,10,50,100,200)",
    )
    parser.add_argument(
        "--rates",
        type=lambda text: numbers(text, float),
        default=[50.0, 200.0],
        help="engine tokens/s per stream, comma-separated (default 50,200)",
    )
    parser.add_argument("--answer-tokens", type=int, default=200, help="tokens per answer (default 200)")
    parser.add_argument("--workers", type=int, default=1, help="Celery worker processes (default 1)")
    parser.add_argument(
        "--webs", type=int, default=1, help="web processes; a conversation's readers are spread over them"
    )
    parser.add_argument(
        "--watchers",
        type=int,
        default=0,
        help="readers per conversation besides the sender, each on the next web process (default 0)",
    )
    parser.add_argument(
        "--server",
        type=lambda text: text.split(","),
        default=["daphne"],
        help="ASGI server: daphne, uvicorn or both (daphne,uvicorn: a row for each, same run)",
    )
    parser.add_argument(
        "--engine-tick", type=float, default=0.02, help="the engine's shortest pause between writes (s)"
    )
    parser.add_argument(
        "--max-seconds", type=float, default=0, help="cut each row after this long (default 2x the answer + 10 s)"
    )
    parser.add_argument("--quick", action="store_true", help="1 and 10 streams at 50 tokens/s, 100-token answers")
    parser.add_argument("--no-direct", action="store_true", help="skip the engine-direct baseline rows")
    parser.add_argument("--direct-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    parser.add_argument(
        "--knowledge",
        type=int,
        default=0,
        metavar="N",
        help="also run each app row with N Team FAQ questions and an entry saved meanwhile",
    )
    parser.add_argument(
        "--ramp",
        type=float,
        default=0.0,
        help="send the questions spread over this many seconds, as users arrive (default 0: all at once)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.streams, args.rates, args.answer_tokens = [1, 10], [50.0], 100
    unknown = set(args.server) - {"daphne", "uvicorn"}
    if unknown:
        parser.error(f"unknown server: {', '.join(sorted(unknown))} (daphne or uvicorn)")
    if args.answer_tokens < 2:
        parser.error("--answer-tokens must be at least 2")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    global RAMP_SECONDS
    RAMP_SECONDS = args.ramp
    bench = Bench(args)
    described = machine()
    rows = []
    try:
        bench.start()
        bench.warm_up()
        for rate in args.rates:
            for count in args.streams:
                kinds = ([] if args.no_direct else [None]) + ([] if args.direct_only else args.server)
                runs = [(server, 0) for server in kinds]
                if args.knowledge:
                    runs += [(server, args.knowledge) for server in kinds if server]
                for server, knowledge in runs:
                    row = bench.row(count, rate, server, knowledge)
                    rows.append(row)
                    print(
                        f"{row['path']}: {count} streams at {rate:g} tok/s: delivered/engine "
                        f"{cell(row, 'delivered_ratio_median')}, finished {cell(row, 'finished')}, "
                        f"lost/doubled {row['lost_or_doubled_chars']}",
                        file=sys.stderr,
                        flush=True,
                    )
    finally:
        bench.stop()
    print(f"Relay benchmark, {args.answer_tokens}-token answers; {described}.")
    arrival = f"questions sent over {args.ramp:g} s" if args.ramp else "all questions sent at once"
    print(
        f"{args.watchers} extra reader(s) per conversation; {arrival}; rows cut after twice the answer's time plus 10 s.\n"
    )
    print(table(rows))
    checked = targets(rows)
    if checked:
        print("\n" + "\n".join(checked))
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"machine": described, "args": vars(args), "rows": finite(rows)}, out, indent=2)
    return 0 if all(row["lost_or_doubled_chars"] == 0 for row in rows) else 1


if __name__ == "__main__":
    # Run from `python -m benchmarks` too: exit only to report lost text.
    if main():
        sys.exit(1)
