"""An OpenAI-compatible engine that streams a known text at a set rate, and behaves as vLLM does.

    python -m uvicorn benchmarks.fake_engine:app --port 8011 --no-access-log

(the tests, the fault suite and the benchmarks start it with `EngineProcess`)

It stands in for vLLM where no GPU is at hand: for the relay benchmark (what is
measured is the relay, not a model), the fault suite, the GPU smoke check's CI
run and the tests of what vLLM does that the CPU service does not. The question
says what to answer: ``seed=123 tokens=200 rate=50 [delay=0.05] [fail_after=10]``
(a fixed text per seed, `tokens` tokens, at `rate` tokens/s after `delay`
seconds, an error event after `fail_after` tokens; without them, 200 tokens at
50 tokens/s from a seed of 0); with ``repeat=1`` the answer is the rest of the
question, after its first line, in tokens of 200 characters (a model repeating
what it was given); with ``markdown=1`` it is dense Markdown instead of the
seed's text (bold, code and a paragraph break every eight words, for the chat
page's benchmark). The benchmark rebuilds the same text with `answer_tokens`
to check what its clients received. Faults: ``poison=N`` sends, after N tokens,
an event whose ``delta.content`` is a number (then goes on); ``stall=N`` goes
silent for good after N tokens (a long `delay` is silence before the first);
``drop_after=N`` ends the stream after N tokens with neither a finish_reason
nor [DONE], as a connection dropped mid-answer; ``status=500`` answers with that
status and an error body, before any stream.

Scripted answers, for a test that needs a given text (one that strays from the
knowledge base, a conversation's title): `POST /fake/config {"script": [{"when":
"...", "answer": "..."}]}`. The first rule whose `when` is in the prompt (any
message's text; a rule without `when` matches every prompt) gives the answer,
in tokens of a word each; the question's parameters still set its pace and faults.

vLLM's behaviours, each read from its OpenAI server (v0.12):
- a prompt plus `max_tokens` over `max_model_len` is a 400 with vLLM's words;
  `POST /tokenize` with `messages` counts a prompt (its own count: text at
  `chars_per_token`, CJK one token a character, `image_tokens` per image);
- while loading (`POST /fake/config {"loading": true}`) every route is a 503,
  and `POST /fake/restart {"down_for": s}` drops open streams mid-answer, then is
  down for `s` seconds;
- with `max_num_seqs`, requests beyond it wait without a byte (no headers even)
  until one ends, as vLLM's scheduler holds them;
- the first chunk carries only the role, with the first token; usage comes in a
  chunk of its own; `finish_reason` is `length` at `max_tokens`; a failure
  after the stream began is an error event;
- a last assistant message with `continue_final_message` is written on from;
- a request's `priority` is refused unless `scheduling_policy` is "priority";
- with `validate`, every request first goes through mistral-common's validator,
  as vLLM does with `--tokenizer_mode mistral` (400 on what it rejects).

Each stream keeps its own schedule, and a wake-up sends every token that is due
by then (each still one SSE event, as vLLM sends them) in one write, so the
engine stays cheap at hundreds of streams. `GET /bench/log` hands out and clears
what the engine did per request: when it arrived, when its first and last token
were written (time.monotonic(), which is one clock for all processes of the
machine), and how many tokens it sent. `GET /fake/streams` says how many
streams are open and the most that were open at once since the last reset
(streams waiting for a `max_num_seqs` slot are not open yet).
"""

import asyncio
import functools
import json
import math
import os
import random
import re
import subprocess
import sys
import time
import unicodedata

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from benchmarks.stack import ROOT, free_port, wait_for

MODEL = os.environ.get("FAKE_ENGINE_MODEL", "relay-bench")
# Named, it is the one model served (as vLLM serves one: others get a 404);
# unnamed, any model asked for is answered (the relay benchmark, the fault suite).
ONE_MODEL = "FAKE_ENGINE_MODEL" in os.environ
# Shortest pause between two writes of one stream: above the rate's own
# interval several due tokens leave in one write.
TICK = float(os.environ.get("FAKE_ENGINE_TICK", "0.02"))
DEFAULTS = {
    "seed": 0,
    "tokens": 200,
    "rate": 50.0,
    "delay": 0.0,
    "fail_after": -1,
    "repeat": 0,
    "poison": 0,
    "stall": 0,
    "drop_after": -1,
    "status": 0,
    "markdown": 0,
}
PARAMETER = re.compile(
    r"\b(seed|tokens|rate|delay|fail_after|repeat|poison|stall|drop_after|status|markdown)=([0-9.]+)"
)
REPEATED_TOKEN_CHARS = 200
# What POST /fake/config may change, and its value at start.
CONFIG = {
    "max_model_len": int(os.environ.get("FAKE_ENGINE_MAX_MODEL_LEN", "32768")),
    "tokenize": True,
    "loading": False,
    "max_num_seqs": 0,  # 0: no limit
    "validate": False,
    "scheduling_policy": "fcfs",
    "chars_per_token": 2.0,
    "image_tokens": 1200,
    "script": [],  # [{"when": text in the prompt (optional), "answer": text}], first match answers
}

WORDS = (
    "the relay carries every token from the engine to each reader and keeps the order of chunks while "
    "workers write partial answers to the database so that a reload resumes exactly where it stopped "
    "streams share one loop per process with pooled connections and a log in redis for anyone who "
    "missed a chunk because a socket dropped or a channel layer gave up under load"
).split()
# Characters that take more than one byte, and Markdown that renders, so a
# relay that splits or re-renders text badly shows it.
SPECIAL = [" café", " naïve", " 東京", " ✓", " **bold**", " `code`", " —", " émigré"]
# A page renders Markdown as it streams: this answer makes it render some at every chunk.
MARKDOWN = ["Streaming", "**text**", "with", "`code`", "and", "plain", "words", "\n\n"]


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


def markdown_tokens(count: int) -> list[str]:
    return [MARKDOWN[index % len(MARKDOWN)] + " " for index in range(count)]


def answer_text(seed: int, count: int) -> str:
    return "".join(answer_tokens(seed, count))


def message_text(message: dict) -> str:
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):
        content = " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""


def scripted_tokens(messages: list, script: list) -> list[str] | None:
    """The answer the script gives this prompt, a word a token; None when no rule matches."""
    prompt = "\n".join(message_text(message) for message in messages or [])
    for rule in script:
        if rule.get("when", "") in prompt:
            words = rule["answer"].split(" ")
            return [words[0]] + [" " + word for word in words[1:]]
    return None


def question_text(messages: list) -> str:
    for message in reversed(messages or []):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                content = " ".join(part.get("text", "") for part in content if isinstance(part, dict))
            return content or ""
    return ""


def parameters(messages: list) -> dict:
    """What the last user message asks of the engine."""
    asked: dict = dict(DEFAULTS)
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


def count_tokens(messages: list, config: dict) -> int:
    """This engine's own count of a prompt: not the client's estimate, as a real tokenizer's is not."""
    total = 0
    for message in messages or []:
        total += 4
        content = message.get("content") if isinstance(message, dict) else None
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
        for part in parts:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "image_url":
                total += config["image_tokens"]
            elif isinstance(part.get("text"), str):
                text = part["text"]
                wide = sum(1 for char in text if unicodedata.east_asian_width(char) in "WF")
                total += wide + math.ceil((len(text) - wide) / config["chars_per_token"])
    return total


@functools.cache
def mistral_tokenizer():
    """A Tekken tokenizer shipped inside mistral-common (no download): its encoder refuses what Ministral's does."""
    from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

    return MistralTokenizer.v3(is_tekken=True)


def validation_error(body: dict) -> str | None:
    """What mistral-common (vLLM's checks in Mistral mode) says of the request; None if it passes.

    The validator of Ministral 3's tokenizer version checks the structure (the
    last role, images only in user messages...); encoding with a bundled Tekken
    tokenizer adds the checks made while encoding (an assistant message with no
    content). Requests with images skip the encoding: that tokenizer has no
    image encoder.
    """
    from mistral_common.exceptions import MistralCommonException
    from mistral_common.protocol.instruct.request import ChatCompletionRequest
    from mistral_common.protocol.instruct.validator import MistralRequestValidatorV13, ValidationMode

    continues = bool(body.get("continue_final_message"))
    messages = body.get("messages") or []
    try:
        request = ChatCompletionRequest.from_openai(messages, continue_final_message=continues)
        MistralRequestValidatorV13(ValidationMode.serving).validate_messages(
            request.messages, continue_final_message=continues
        )
        if '"image_url"' not in json.dumps(messages):
            mistral_tokenizer().encode_chat_completion(request)
    except (MistralCommonException, ValueError, TypeError) as error:
        return str(error) or type(error).__name__
    return None


def error_body(status: int, message: str, kind: str = "BadRequestError") -> dict:
    return {"error": {"message": message, "type": kind, "param": None, "code": status}}


class Restarted(Exception):
    """The engine restarted under an open stream: its connection ends without a proper end."""


def event(body: dict) -> bytes:
    return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"


class Engine:
    def __init__(self) -> None:
        self.log: dict[str, dict] = {}
        self.anonymous = 0
        self.config = dict(CONFIG)
        self.requests: list[dict] = []  # bodies received, for tests (GET /fake/requests)
        self.down_until = 0.0
        self.restarts = 0  # bumped by a restart: streams of an older generation end abruptly
        self.running = 0
        self.most_running = 0  # the most streams open at once since the last reset
        self.slot_freed = asyncio.Condition()

    @property
    def unavailable(self) -> bool:
        return self.config["loading"] or time.monotonic() < self.down_until

    def loading_response(self) -> JSONResponse:
        return JSONResponse(error_body(503, "The model is loading.", "ServiceUnavailableError"), status_code=503)

    def record(self, asked: dict) -> tuple[str, dict]:
        key = str(asked["seed"])
        if key in self.log:  # the same seed asked again (a retry): keep both
            self.anonymous += 1
            key = f"{key}#{self.anonymous}"
        entry = {"arrived": time.monotonic(), "first": None, "last": None, "tokens": 0, "closed_early": False}
        self.log[key] = entry
        return key, entry

    async def stream(
        self, tokens: list[str], asked: dict, entry: dict, include_usage: bool, finish: str, prompt_tokens: int = 10
    ):
        # Templates: per token only the token itself is JSON-encoded.
        identifier = f"chatcmpl-{asked['seed']}"
        head = (
            f'{{"id":"{identifier}","object":"chat.completion.chunk","created":0,"model":"{MODEL}","choices":[{{"index":0,"delta":{{"content":'
        ).encode()
        tail = b'},"finish_reason":null}]}'
        rate = max(asked["rate"], 0.001)
        role = event(
            {
                "id": identifier,
                "object": "chat.completion.chunk",
                "created": 0,
                "model": MODEL,
                "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
            }
        )
        generation = self.restarts
        start = time.monotonic() + asked["delay"]
        sent = 0
        fail_after = asked["fail_after"]
        drop_after = asked["drop_after"]
        try:
            while sent < len(tokens):
                if generation != self.restarts:
                    raise Restarted
                now = time.monotonic()
                due = min(len(tokens), int((now - start) * rate) + 1) if now >= start else 0
                if asked["stall"] and sent >= asked["stall"]:
                    await asyncio.sleep(3600)
                for fault in ("poison", "stall"):
                    if sent < asked[fault] < due:
                        due = asked[fault]  # stop at the fault's token
                if 0 <= fail_after <= due:
                    due = fail_after
                if 0 <= drop_after <= due:
                    due = drop_after
                if 0 <= drop_after == sent:
                    return  # the connection drops: no finish_reason, no [DONE]
                if due > sent or (0 <= fail_after == sent):
                    body = b"".join(
                        b"data: " + head + json.dumps(token).encode() + tail + b"\n\n" for token in tokens[sent:due]
                    )
                    if due == asked["poison"]:
                        body += b"data: " + head + b"7" + tail + b"\n\n"
                    if sent == 0:
                        # As vLLM: the role comes with the first token, not before.
                        body = role + body
                    if 0 <= fail_after <= due:
                        # As vLLM reports a failure once the stream has begun.
                        body += event(
                            error_body(
                                500, "The engine failed: CUDA error: an illegal memory access", "InternalServerError"
                            )
                        )
                        yield body + b"data: [DONE]\n\n"
                        return
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
                usage = {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": len(tokens),
                    "total_tokens": len(tokens) + prompt_tokens,
                }
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
        if self.unavailable:
            return self.loading_response()
        body = await request.json()
        self.requests.append(body)
        messages = body.get("messages") or []
        if ONE_MODEL and body.get("model") not in (None, MODEL):
            message = f"The model `{body.get('model')}` does not exist."
            return JSONResponse(error_body(404, message, "NotFoundError"), status_code=404)
        if self.config["validate"]:
            problem = validation_error(body)
            if problem:
                return JSONResponse(error_body(400, problem), status_code=400)
        if body.get("priority") and self.config["scheduling_policy"] != "priority":
            message = f"Got priority {body['priority']} but Priority scheduling is not enabled."
            return JSONResponse(error_body(400, message), status_code=400)
        prompt_tokens = count_tokens(messages, self.config)
        max_tokens = body.get("max_tokens") or body.get("max_completion_tokens") or 16
        if prompt_tokens + max_tokens > self.config["max_model_len"]:
            message = (
                f"'max_tokens' or 'max_completion_tokens' is too large: {max_tokens}. This model's maximum "
                f"context length is {self.config['max_model_len']} tokens and your request has "
                f"{prompt_tokens} input tokens ({max_tokens} > {self.config['max_model_len']} - {prompt_tokens})."
            )
            return JSONResponse(error_body(400, message), status_code=400)
        asked = parameters(messages)
        if asked["status"]:
            message = (
                "CUDA out of memory. Tried to allocate 2.00 GiB" if asked["status"] == 500 else "The engine failed."
            )
            return JSONResponse(
                error_body(asked["status"], message, "InternalServerError"), status_code=asked["status"]
            )
        whole = scripted_tokens(messages, self.config["script"])
        if whole is None and asked["markdown"]:
            whole = markdown_tokens(asked["tokens"])
        if whole is None:
            whole = answer_tokens(asked["seed"], asked["tokens"])
        written = 0
        last = messages[-1] if messages else {}
        if body.get("continue_final_message") and last.get("role") == "assistant":
            # Write on from the answer's text: the tokens after those it already has.
            so_far = last.get("content") or ""
            while (
                written < len(whole) and "".join(whole[: written + 1]) == so_far[: len("".join(whole[: written + 1]))]
            ):
                written += 1
        tokens = whole[written:]
        finish = "stop"
        if asked["repeat"]:
            repeated = question_text(messages).partition("\n")[2]
            tokens = [
                repeated[start : start + REPEATED_TOKEN_CHARS]
                for start in range(0, len(repeated), REPEATED_TOKEN_CHARS)
            ]
        if len(tokens) > max_tokens:
            tokens, finish = tokens[:max_tokens], "length"
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
                    "usage": {
                        "prompt_tokens": prompt_tokens,
                        "completion_tokens": len(tokens),
                        "total_tokens": len(tokens) + prompt_tokens,
                    },
                }
            )
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        # Beyond max_num_seqs a request waits here: nothing is sent, not even headers.
        await self.take_slot()
        return StreamingResponse(
            self.freeing_slot(self.stream(tokens, asked, entry, include_usage, finish, prompt_tokens)),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache"},
        )

    async def take_slot(self) -> None:
        async with self.slot_freed:
            limit = self.config["max_num_seqs"]
            await self.slot_freed.wait_for(lambda: not limit or self.running < limit)
            self.running += 1
            self.most_running = max(self.most_running, self.running)

    async def freeing_slot(self, chunks):
        try:
            async for chunk in chunks:
                yield chunk
        finally:
            async with self.slot_freed:
                self.running -= 1
                self.slot_freed.notify_all()

    async def tokenize(self, request: Request):
        if not self.config["tokenize"]:
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        if self.unavailable:
            return self.loading_response()
        body = await request.json()
        if "messages" in body:
            count = count_tokens(body["messages"], self.config)
        else:
            count = math.ceil(len(body.get("prompt") or "") / self.config["chars_per_token"])
        # vLLM also lists the token ids; a count is what clients here read.
        return JSONResponse({"count": count, "max_model_len": self.config["max_model_len"], "tokens": []})

    async def configure(self, request: Request):
        changes = await request.json()
        unknown = set(changes) - set(CONFIG)
        if unknown:
            return JSONResponse({"error": f"unknown settings: {sorted(unknown)}"}, status_code=400)
        self.config.update(changes)
        if changes.get("validate"):
            # Loaded now (seconds), not inside the first request it would delay.
            await asyncio.to_thread(mistral_tokenizer)
        return JSONResponse(self.config)

    async def reset(self, request: Request):
        self.config = dict(CONFIG)
        self.requests = []
        self.down_until = 0.0
        self.most_running = self.running
        return JSONResponse(self.config)

    async def restart(self, request: Request):
        """Streams open now end without a proper end; the engine then loads for `down_for` seconds."""
        body = await request.json() if await request.body() else {}
        self.restarts += 1
        self.down_until = time.monotonic() + float(body.get("down_for", 5.0))
        return JSONResponse({"down_for": body.get("down_for", 5.0)})

    async def received(self, request: Request):
        return JSONResponse(self.requests)

    async def streams(self, request: Request):
        return JSONResponse({"open": self.running, "most": self.most_running})

    async def models(self, request: Request):
        if self.unavailable:
            return self.loading_response()
        return JSONResponse({"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "benchmark"}]})

    async def health(self, request: Request):
        if self.unavailable:
            return Response(status_code=503)
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
        Route("/tokenize", engine.tokenize, methods=["POST"]),
        Route("/fake/config", engine.configure, methods=["POST"]),
        Route("/fake/reset", engine.reset, methods=["POST"]),
        Route("/fake/restart", engine.restart, methods=["POST"]),
        Route("/fake/requests", engine.received),
        Route("/fake/streams", engine.streams),
    ]
)


def serve_arguments(port: int) -> list[str]:
    """`python` arguments that serve this engine on `port`."""
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


class EngineProcess:
    """This engine in a process of its own: how the tests, the fault suite and the benchmarks start it.

    `model` names the one model served (others get a 404, as from vLLM); without
    it any model asked for is answered. `options` go to uvicorn, `output` takes
    the process's output (a benchmark's log). `url` is the engine's root (its
    /health, /fake/... and /bench/log), `base_url` the OpenAI API under it.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        model: str | None = None,
        env: dict[str, str] | None = None,
        options: tuple[str, ...] = (),
        output=None,
        timeout: float = 30,
    ) -> None:
        self.port = port or free_port()
        self.model = model
        self.url = f"http://127.0.0.1:{self.port}"
        self.base_url = self.url + "/v1"
        env = dict(os.environ if env is None else env)
        if model:
            env["FAKE_ENGINE_MODEL"] = model
        self.process = subprocess.Popen(
            [sys.executable, *serve_arguments(self.port), *options],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
        )
        try:
            wait_for(self.url + "/health", timeout=timeout, process=self.process)
        except BaseException:
            self.close()
            raise

    def configure(self, **changes) -> dict:
        """Change what POST /fake/config may change (see CONFIG); returns the whole configuration."""
        response = httpx.post(self.url + "/fake/config", json=changes, timeout=60)
        response.raise_for_status()
        return response.json()

    def restart(self, down_for: float) -> None:
        httpx.post(self.url + "/fake/restart", json={"down_for": down_for}, timeout=5).raise_for_status()

    def requests(self) -> list[dict]:
        """The bodies of the chat requests received since the last reset."""
        return httpx.get(self.url + "/fake/requests", timeout=5).json()

    def streams(self) -> dict:
        """Streams open now ("open") and the most open at once since the last reset ("most")."""
        return httpx.get(self.url + "/fake/streams", timeout=5).json()

    def reset(self) -> None:
        """The configuration at start, no requests recorded, not down, the most streams at once counted anew."""
        httpx.post(self.url + "/fake/reset", timeout=5).raise_for_status()

    def take_log(self) -> dict:
        """What the engine did per request since the last call (GET /bench/log)."""
        return httpx.get(self.url + "/bench/log", timeout=30).json()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> "EngineProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
