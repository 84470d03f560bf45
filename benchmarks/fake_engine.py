"""An OpenAI-compatible engine that streams a known text at a set rate, for the relay benchmark.

    python -m uvicorn benchmarks.fake_engine:app --port 8011 --no-access-log

It stands in for vLLM so that what is measured is the relay, not a model. The
question says what to answer: ``seed=123 tokens=200 rate=50 [delay=0.05]``
(a fixed text per seed, `tokens` tokens, at `rate` tokens/s after `delay`
seconds; without them, 200 tokens at 50 tokens/s from a seed of 0). Two faults
for the fault suite: ``poison=N`` sends, after N tokens, an event whose
``delta.content`` is a number (then goes on), and ``stall=N`` goes silent for
good after N tokens. The benchmark
rebuilds the same text with `answer_tokens` to check what its clients received.

Each stream keeps its own schedule, and a wake-up sends every token that is due
by then (each still one SSE event, as vLLM sends them) in one write, so the
engine stays cheap at hundreds of streams. `GET /bench/log` hands out and clears
what the engine did per request: when it arrived, when its first and last token
were written (time.monotonic(), which is one clock for all processes of the
machine), and how many tokens it sent.
"""

import asyncio
import json
import os
import random
import re
import time

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

MODEL = os.environ.get("FAKE_ENGINE_MODEL", "relay-bench")
# Shortest pause between two writes of one stream: above the rate's own
# interval several due tokens leave in one write.
TICK = float(os.environ.get("FAKE_ENGINE_TICK", "0.02"))
DEFAULTS = {"seed": 0, "tokens": 200, "rate": 50.0, "delay": 0.0, "poison": 0, "stall": 0}
PARAMETER = re.compile(r"\b(seed|tokens|rate|delay|poison|stall)=([0-9.]+)")

WORDS = (
    "the relay carries every token from the engine to each reader and keeps the order of chunks while "
    "workers write partial answers to the database so that a reload resumes exactly where it stopped "
    "streams share one loop per process with pooled connections and a log in redis for anyone who "
    "missed a chunk because a socket dropped or a channel layer gave up under load"
).split()
# Characters that take more than one byte, and Markdown that renders, so a
# relay that splits or re-renders text badly shows it.
SPECIAL = [" café", " naïve", " 東京", " ✓", " **bold**", " `code`", " —", " émigré"]


def answer_tokens(seed: int, count: int) -> list[str]:
    """The answer to `seed`: `count` tokens, the same every time, ending in a full stop."""
    chooser = random.Random(seed)
    tokens: list[str] = []
    sentence = 0
    while len(tokens) < count:
        words = chooser.randint(6, 14)
        for index in range(words):
            if chooser.random() < 0.06:
                tokens.append(chooser.choice(SPECIAL))
                continue
            word = chooser.choice(WORDS)
            if index == 0:
                word = word.capitalize()
            starts_paragraph = not tokens or tokens[-1] == "\n\n"
            tokens.append(word if index == 0 and starts_paragraph else " " + word)
        tokens.append(".")
        sentence += 1
        if sentence % chooser.randint(3, 5) == 0:
            tokens.append("\n\n")
    tokens = tokens[:count]
    if tokens and tokens[-1] == "\n\n":
        tokens[-1] = "."
    return tokens


def answer_text(seed: int, count: int) -> str:
    return "".join(answer_tokens(seed, count))


def parameters(messages: list) -> dict:
    """What the last user message asks of the engine."""
    asked = dict(DEFAULTS)
    for message in reversed(messages or []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, list):
            content = " ".join(part.get("text", "") for part in content if isinstance(part, dict))
        for name, value in PARAMETER.findall(content or ""):
            asked[name] = float(value) if name in ("rate", "delay") else int(float(value))
        break
    return asked


def event(body: dict) -> bytes:
    return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"


class Engine:
    def __init__(self) -> None:
        self.log: dict[str, dict] = {}
        self.anonymous = 0

    def record(self, asked: dict) -> tuple[str, dict]:
        key = str(asked["seed"])
        if key in self.log:  # the same seed asked again (a retry): keep both
            self.anonymous += 1
            key = f"{key}#{self.anonymous}"
        entry = {"arrived": time.monotonic(), "first": None, "last": None, "tokens": 0, "closed_early": False}
        self.log[key] = entry
        return key, entry

    async def stream(self, tokens: list[str], asked: dict, entry: dict, include_usage: bool, finish: str):
        # Templates: per token only the token itself is JSON-encoded.
        identifier = f"chatcmpl-{asked['seed']}"
        head = (
            f'{{"id":"{identifier}","object":"chat.completion.chunk","created":0,"model":"{MODEL}","choices":[{{"index":0,"delta":{{"content":'
        ).encode()
        tail = b'},"finish_reason":null}]}'
        rate = max(asked["rate"], 0.001)
        yield event(
            {
                "id": identifier,
                "object": "chat.completion.chunk",
                "created": 0,
                "model": MODEL,
                "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
            }
        )
        start = time.monotonic() + asked["delay"]
        sent = 0
        try:
            while sent < len(tokens):
                now = time.monotonic()
                due = min(len(tokens), int((now - start) * rate) + 1) if now >= start else 0
                if asked["stall"] and sent >= asked["stall"]:
                    await asyncio.sleep(3600)
                for fault in ("poison", "stall"):
                    if sent < asked[fault] < due:
                        due = asked[fault]  # stop at the fault's token
                if due > sent:
                    body = b"".join(
                        b"data: " + head + json.dumps(token).encode() + tail + b"\n\n" for token in tokens[sent:due]
                    )
                    if due == asked["poison"]:
                        body += b"data: " + head + b"7" + tail + b"\n\n"
                    yield body
                    sent = due
                    entry["tokens"] = sent
                    entry["last"] = time.monotonic()
                    if entry["first"] is None:
                        entry["first"] = entry["last"]
                    now = entry["last"]
                wake = max(start + sent / rate, now + TICK)
                await asyncio.sleep(wake - time.monotonic())
            yield event(
                {
                    "id": identifier,
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": MODEL,
                    "choices": [{"index": 0, "delta": {}, "finish_reason": finish}],
                }
            )
            if include_usage:
                usage = {"prompt_tokens": 10, "completion_tokens": len(tokens), "total_tokens": len(tokens) + 10}
                yield event(
                    {
                        "id": identifier,
                        "object": "chat.completion.chunk",
                        "created": 0,
                        "model": MODEL,
                        "choices": [],
                        "usage": usage,
                    }
                )
            yield b"data: [DONE]\n\n"
        finally:
            entry["closed_early"] = sent < len(tokens)

    async def completions(self, request: Request):
        body = await request.json()
        asked = parameters(body.get("messages"))
        count = asked["tokens"]
        finish = "stop"
        if body.get("max_tokens") and body["max_tokens"] < count:
            count, finish = body["max_tokens"], "length"
        tokens = answer_tokens(asked["seed"], count)
        _, entry = self.record(asked)
        if not body.get("stream"):
            entry["first"] = entry["last"] = time.monotonic()
            entry["tokens"] = len(tokens)
            return JSONResponse(
                {
                    "id": f"chatcmpl-{asked['seed']}",
                    "object": "chat.completion",
                    "created": 0,
                    "model": MODEL,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "".join(tokens)},
                            "finish_reason": finish,
                        }
                    ],
                    "usage": {"prompt_tokens": 10, "completion_tokens": len(tokens), "total_tokens": len(tokens) + 10},
                }
            )
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return StreamingResponse(
            self.stream(tokens, asked, entry, include_usage, finish),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache"},
        )

    async def models(self, request: Request):
        return JSONResponse({"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "benchmark"}]})

    async def health(self, request: Request):
        return JSONResponse({"status": "ok"})

    async def take_log(self, request: Request):
        log, self.log = self.log, {}
        return JSONResponse(log)


engine = Engine()
app = Starlette(
    routes=[
        Route("/v1/chat/completions", engine.completions, methods=["POST"]),
        Route("/v1/models", engine.models),
        Route("/health", engine.health),
        Route("/bench/log", engine.take_log),
    ]
)


def serve_arguments(port: int) -> list[str]:
    """`python` arguments that serve this engine on `port` (the benchmarks and the fault suite start it so)."""
    return [
        "-m",
        "uvicorn",
        "benchmarks.fake_engine:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
