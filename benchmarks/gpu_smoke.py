"""The GPU smoke check: what a real vLLM endpoint does with what this app sends it.

    python -m benchmarks.gpu_smoke --base-url http://vllm:8000/v1 --api-key "$INFERENCE_API_KEY" \
        --restart-command "docker compose restart vllm"

Run it on the GPU host right after `docker compose --profile gpu up -d`. It prints:

1. start to healthy: seconds until `/health` answers and `/v1/models` lists the model
   (counted from this script's start, so start it with the stack);
2. prompt tokens: vLLM's own count (`POST /tokenize`) of a CJK history and of a
   request with four full-size images, against the app's estimate (the context
   budget relies on the estimate where no count is available);
3. parallel streams (default 200): how many answers start, how many time out before
   their first token or between chunks, time to first token (p50/p95);
4. a restart mid-answer (with `--restart-command`): how the open answer ends, and
   how long until the endpoint answers again.

CI runs it against benchmarks/fake_engine.py so that it keeps working; those
figures describe the fake engine, not a GPU.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import os
import random
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

import django
import httpx

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatapp.settings")
django.setup()

from django.conf import settings  # noqa: E402

from chatapp.chat.prompt import estimate_tokens  # noqa: E402
from chatapp.images.vision import vision_tokens  # noqa: E402
from inference.client import InferenceError, count_prompt_tokens, stream_chat_completion  # noqa: E402

CJK_TURNS = [
    "東京で来週の会議の準備をしています。資料は日本語と英語の両方で必要ですか？",
    "はい、両方あると助かります。特に予算の表は英語版も用意してください。",
    "我们团队下周要去上海出差，需要提前预订酒店和会议室，请帮我列一个清单。",
    "好的：一、预订酒店；二、确认会议室；三、准备演示文稿；四、安排接送。",
    "한국 지사와의 화상 회의는 몇 시에 시작하나요? 시차를 고려해 주세요.",
]


@dataclass
class Stream:
    first_token: float | None = None
    tokens: int = 0
    outcome: str = "done"


@dataclass
class Figures:
    lines: list[str] = field(default_factory=list)

    def say(self, line: str) -> None:
        self.lines.append(line)
        print(line, flush=True)


def root_of(base_url: str) -> str:
    return base_url.rstrip("/").removesuffix("/v1")


def headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def picture(width: int, height: int, seed: int) -> str:
    """A full-size photo-like image as a data URI (noise: no encoder shortcut)."""
    from PIL import Image

    noise = random.Random(seed).randbytes(width * height * 3)
    buffer = io.BytesIO()
    Image.frombytes("RGB", (width, height), noise).save(buffer, "JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


async def wait_healthy(http: httpx.AsyncClient, args: argparse.Namespace, started: float) -> str | None:
    """The served model once `/health` and `/v1/models` answer; None if not within --healthy-timeout."""
    while time.monotonic() - started < args.healthy_timeout:
        try:
            health = await http.get(root_of(args.base_url) + "/health", timeout=5)
            models = await http.get(args.base_url.rstrip("/") + "/models", headers=headers(args.api_key), timeout=5)
            if health.status_code == 200 and models.status_code == 200:
                served = [entry["id"] for entry in models.json().get("data", [])]
                if args.model in served or (not args.model and served):
                    return args.model or served[0]
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        await asyncio.sleep(1)
    return None


async def compare_counts(http: httpx.AsyncClient, args: argparse.Namespace, model: str, figures: Figures) -> None:
    history: list[dict] = [{"role": "system", "content": settings.SYSTEM_PROMPT}]
    for number, text in enumerate(CJK_TURNS * 4):
        history.append({"role": "user" if number % 2 == 0 else "assistant", "content": text})
    if history[-1]["role"] != "user":
        history.append({"role": "user", "content": CJK_TURNS[0]})
    estimate = sum(estimate_tokens(message["content"]) for message in history)
    await report_count(http, args, model, "CJK history", history, estimate, figures)

    side, other = settings.IMAGE_MAX_SIDE, settings.IMAGE_MAX_SIDE * 3 // 4
    parts: list[dict] = [{"type": "text", "text": "What differs between these four pictures?"}]
    parts += [{"type": "image_url", "image_url": {"url": picture(side, other, seed)}} for seed in range(4)]
    images = [{"role": "user", "content": parts}]
    estimate = estimate_tokens(parts[0]["text"]) + 4 * vision_tokens(side, other, max_side=side)
    await report_count(http, args, model, f"four {side}×{other} images", images, estimate, figures)


async def report_count(
    http: httpx.AsyncClient,
    args: argparse.Namespace,
    model: str,
    name: str,
    messages: list[dict],
    estimate: int,
    figures: Figures,
) -> None:
    counted = await count_prompt_tokens(
        http, base_url=args.base_url, api_key=args.api_key, model=model, messages=messages, timeout=60
    )
    if counted is None:
        figures.say(f"prompt tokens, {name}: estimated {estimate}; the endpoint has no /tokenize to compare")
        return
    verdict = (
        "within the estimate" if counted <= estimate else "OVER the estimate: the margin or /tokenize must cover it"
    )
    figures.say(
        f"prompt tokens, {name}: endpoint {counted}, estimated {estimate} ({counted / estimate:.2f}×, {verdict})"
    )


async def one_stream(http: httpx.AsyncClient, args: argparse.Namespace, model: str, question: str) -> Stream:
    stream = Stream()
    started = time.monotonic()
    try:
        async for event in stream_chat_completion(
            http,
            base_url=args.base_url,
            api_key=args.api_key,
            model=model,
            messages=[{"role": "user", "content": question}],
            max_tokens=args.max_tokens,
            temperature=0.05,
            read_timeout=args.read_timeout,
            first_token_timeout=args.first_token_timeout,
        ):
            if event.delta:
                stream.first_token = stream.first_token or time.monotonic() - started
                stream.tokens += 1
    except InferenceError as error:
        if error.timed_out:
            stream.outcome = "timed out between chunks" if stream.first_token else "timed out before the first token"
        else:
            stream.outcome = f"failed: {error.reason}"
    return stream


async def parallel_streams(http: httpx.AsyncClient, args: argparse.Namespace, model: str, figures: Figures) -> None:
    started = time.monotonic()
    streams = await asyncio.gather(*(one_stream(http, args, model, args.question) for _ in range(args.streams)))
    elapsed = time.monotonic() - started
    outcomes: dict[str, int] = {}
    for stream in streams:
        outcomes[stream.outcome] = outcomes.get(stream.outcome, 0) + 1
    firsts = sorted(stream.first_token for stream in streams if stream.first_token is not None)
    tokens = sum(stream.tokens for stream in streams)
    summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items()))
    figures.say(f"{args.streams} parallel streams in {elapsed:.1f} s: {summary}; {tokens / elapsed:.0f} chunks/s")
    if firsts:
        p95 = firsts[min(len(firsts) - 1, int(len(firsts) * 0.95))]
        figures.say(f"time to first token: p50 {statistics.median(firsts):.2f} s, p95 {p95:.2f} s")


async def restart_mid_answer(http: httpx.AsyncClient, args: argparse.Namespace, model: str, figures: Figures) -> None:
    if not args.restart_command:
        figures.say("restart mid-answer: skipped (no --restart-command)")
        return
    received = 0
    outcome = "finished before the restart took effect"
    restarted_at = None
    try:
        async for event in stream_chat_completion(
            http,
            base_url=args.base_url,
            api_key=args.api_key,
            model=model,
            messages=[{"role": "user", "content": args.long_question}],
            max_tokens=args.max_tokens * 8,
            temperature=0.05,
            read_timeout=args.read_timeout,
            first_token_timeout=args.first_token_timeout,
        ):
            received += bool(event.delta)
            if received == 5 and restarted_at is None:
                restarted_at = time.monotonic()
                await asyncio.to_thread(subprocess.run, args.restart_command, shell=True, check=False)
    except InferenceError as error:
        outcome = f"ended: {error.reason}"
    restarted_at = restarted_at or time.monotonic()
    back = None
    while time.monotonic() - restarted_at < args.healthy_timeout:
        answer = await one_stream(http, args, model, args.question)
        if answer.outcome == "done" and answer.tokens:
            back = time.monotonic() - restarted_at
            break
        await asyncio.sleep(1)
    again = f"answering again {back:.1f} s after the restart" if back is not None else "NOT answering again in time"
    figures.say(f"restart mid-answer: the open answer {outcome} after {received} chunks; {again}")


async def main(args: argparse.Namespace) -> int:
    started = time.monotonic()
    figures = Figures()
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=args.streams)
    async with httpx.AsyncClient(limits=limits) as http:
        model = await wait_healthy(http, args, started)
        if model is None:
            figures.say(f"start to healthy: NOT healthy within {args.healthy_timeout:.0f} s")
            return 1
        figures.say(f"start to healthy: {time.monotonic() - started:.1f} s (serving {model})")
        await compare_counts(http, args, model, figures)
        await parallel_streams(http, args, model, figures)
        await restart_mid_answer(http, args, model, figures)
    return 0


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", required=True, help="the endpoint, ending in /v1")
    parser.add_argument("--api-key", default=os.environ.get("INFERENCE_API_KEY", ""))
    parser.add_argument("--model", default=os.environ.get("INFERENCE_MODEL", ""), help="default: the first served")
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--question", default="Count from one to forty in words, separated by commas.")
    parser.add_argument("--long-question", default="Write a long story about a lighthouse keeper.")
    parser.add_argument("--first-token-timeout", type=float, default=settings.INFERENCE_FIRST_TOKEN_TIMEOUT)
    parser.add_argument("--read-timeout", type=float, default=settings.INFERENCE_READ_TIMEOUT)
    parser.add_argument("--healthy-timeout", type=float, default=1800.0)
    parser.add_argument("--restart-command", default="", help='e.g. "docker compose restart vllm"')
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(arguments())))
