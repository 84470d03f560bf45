"""Soak: memory of the worker and the web process over a long run of ordinary chat traffic.

    make soak                                   # 30 minutes, 20 conversations
    python -m benchmarks.soak --minutes 45 --conversations 20

Not part of `make bench` (it takes at least half an hour) nor of CI. The real
Celery worker (threads pool) and daphne serve clients that behave like
static/chat/chat.js: each of `--conversations` users asks, reads the answer
to its end (numbered chunks, `resume` on a gap), waits a moment and asks
again in the same conversation, starting a new conversation every
`--turns` answers and reconnecting its socket every few answers (as tabs
are reloaded). The answers come from the fake engine (benchmarks/fake_engine.py)
so that what is measured is the app.

It prints the resident memory (RSS, the process and its children) of the worker
and of daphne at the start (after a warm-up), the middle and the end, the
growth over each half, and the answers completed / errored / lost. Growth that
has stopped shows as a second half that grew far less than the first. With
`--probe`, both processes also write, every few minutes, the Python object
types whose counts grew most (gc), to find what grows.
"""

import argparse
import asyncio
import collections
import gc
import json
import os
import runpy
import sys
import threading
import time
from pathlib import Path

import psutil

from benchmarks.fake_engine import EngineProcess, answer_text
from benchmarks.stack import Processes, benchmark_environment, free_port, migrate, wait_for
from chatapp.chat.chunks import Answer

PROBE_INTERVAL = float(os.environ.get("SOAK_PROBE_INTERVAL", "300"))


def probe(path: str) -> None:
    """In the measured process: every PROBE_INTERVAL, the object types whose counts grew most."""

    def run() -> None:
        previous: collections.Counter = collections.Counter()
        while True:
            time.sleep(PROBE_INTERVAL)
            gc.collect()  # what is only waiting for the collector is not a leak
            counts = collections.Counter(type(item).__qualname__ for item in gc.get_objects())
            grown = {name: counts[name] - previous[name] for name in counts if counts[name] > previous[name]}
            top = sorted(grown.items(), key=lambda item: -item[1])[:15]
            record = {"at": time.time(), "objects": sum(counts.values()), "grown": top}
            if previous:
                record["held_by"] = holders([name for name, _ in top[:8]])
            with open(path, "a") as out:
                out.write(json.dumps(record) + "\n")
            previous = counts

    threading.Thread(target=run, name="soak-probe", daemon=True).start()


def holders(names: list[str]) -> dict[str, list[str]]:
    """For each type name, what refers to its last object (two levels up): where a leak is kept."""
    found: dict[str, object] = {}
    for item in gc.get_objects():
        name = type(item).__qualname__
        if name in names:
            found[name] = item
    chains = {}
    for name, item in found.items():
        chain = []
        for referrer in gc.get_referrers(item):
            if isinstance(referrer, list) and referrer and referrer[-1] is item and len(referrer) > 1000:
                continue  # gc.get_objects()'s own list
            above = [type(r).__qualname__ for r in gc.get_referrers(referrer)[:5]]
            chain.append(f"{type(referrer).__qualname__} <- {above}")
        chains[name] = chain[:6]
    found.clear()
    return chains


class Conversation:
    """One user at one tab: ask, read to the end, pause, ask again."""

    def __init__(self, index: int, url: str, cookie: str, turns: int, tokens: int, rate: float) -> None:
        self.index = index
        self.url = url
        self.cookie = cookie
        self.turns = turns
        self.tokens = tokens
        self.rate = rate
        self.conversation_id: int | None = None
        self.asked = 0
        self.last = 0  # the id of the last answer asked for
        self.outcomes: collections.Counter = collections.Counter()

    async def run(self, until: float) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import WebSocketException

        origin = self.url.replace("ws://", "http://").split("/ws/")[0]
        while time.monotonic() < until:
            try:
                async with connect(
                    self.url, origin=origin, additional_headers={"Cookie": self.cookie}, ping_interval=None
                ) as socket:
                    if self.conversation_id is not None:  # as chat.js does on a reload
                        await socket.send(json.dumps({"type": "open", "conversation_id": self.conversation_id}))
                    # A few answers per socket, then a reload.
                    for _ in range(3):
                        if time.monotonic() >= until:
                            return
                        await self.ask(socket)
                        await asyncio.sleep(1.0)
            except (TimeoutError, OSError, WebSocketException):
                self.outcomes["reconnects after an error"] += 1
                await asyncio.sleep(1.0)

    async def ask(self, socket) -> None:
        if self.asked % self.turns == 0:
            self.conversation_id = None
        seed = self.index * 100_000 + self.asked
        self.asked += 1
        ref = f"s{seed}"
        question = f"seed={seed} tokens={self.tokens} rate={self.rate}"
        await socket.send(
            json.dumps({"type": "send", "ref": ref, "conversation_id": self.conversation_id, "text": question})
        )
        reply_id, answer = None, Answer()
        deadline = time.monotonic() + self.tokens / self.rate + 60
        while time.monotonic() < deadline:
            frame = json.loads(await asyncio.wait_for(socket.recv(), deadline - time.monotonic()))
            kind = frame.get("type")
            if kind == "created":
                self.conversation_id = frame["conversation"]["id"]
            elif kind == "error" and frame.get("ref") == ref:
                self.outcomes["refused"] += 1
                return
            elif kind == "message" and frame["message"]["role"] == "assistant":
                message = frame["message"]
                if reply_id is None and message["status"] in ("queued", "streaming") and message["id"] > self.last:
                    reply_id = self.last = message["id"]
                if message["id"] != reply_id or not answer.apply_message(message):
                    continue
                if not answer.active:
                    exact = answer.status == "done" and answer.text == answer_text(seed, self.tokens)
                    self.outcomes["completed" if exact else answer.status] += 1
                    return
            elif kind == "chunk" and frame["message_id"] == reply_id:
                if answer.apply_chunk(frame).needs_resume:
                    await socket.send(json.dumps(answer.resume(reply_id)))
        self.outcomes["lost"] += 1


def rss_mb(process: psutil.Process) -> float:
    total = 0
    for each in [process, *process.children(recursive=True)]:
        try:
            total += each.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


def sign_in(count: int) -> list[str]:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    cookies = []
    for index in range(count):
        user, created = get_user_model().objects.get_or_create(username=f"soak-{index}")
        if created:
            user.set_unusable_password()
            user.save()
        client = Client()
        client.force_login(user)
        cookies.append(f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}")
    return cookies


async def soak(args: argparse.Namespace, url: str, cookies: list[str], processes: dict) -> dict:
    start = time.monotonic()
    warm_until = start + args.warmup * 60
    until = warm_until + args.minutes * 60
    conversations = [
        Conversation(index, url, cookie, args.turns, args.tokens, args.rate) for index, cookie in enumerate(cookies)
    ]
    tasks = [asyncio.ensure_future(conversation.run(until)) for conversation in conversations]
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in processes}
    while time.monotonic() < until:
        await asyncio.sleep(min(args.sample, max(0.0, until - time.monotonic())))
        now = time.monotonic()
        if now >= warm_until:
            for name, process in processes.items():
                samples[name].append(((now - warm_until) / 60, rss_mb(process)))
            if args.progress:
                print(
                    f"  {(now - warm_until) / 60:5.1f} min: "
                    + ", ".join(f"{name} {points[-1][1]:.1f} MB" for name, points in samples.items()),
                    flush=True,
                )
    await asyncio.gather(*tasks, return_exceptions=True)
    outcomes: collections.Counter = collections.Counter()
    for conversation in conversations:
        outcomes.update(conversation.outcomes)
    return {"samples": samples, "outcomes": dict(outcomes)}


def report(result: dict, args: argparse.Namespace) -> None:
    print(
        f"Soak: {args.conversations} conversations, {args.tokens} tokens at {args.rate} tokens/s per answer, "
        f"{args.minutes:g} min measured after {args.warmup:g} min of warm-up"
        + (f"; environment {' '.join(args.env)}" if args.env else "")
    )
    print("| process | RSS start | middle | end | first half | second half |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, points in result["samples"].items():
        # Each point the median of the samples around it, so one GC or burst does not decide it.
        def around(fraction: float, points=points) -> float:
            index = round(fraction * (len(points) - 1))
            window = sorted(rss for _, rss in points[max(0, index - 2) : index + 3])
            return window[len(window) // 2]

        first, middle, last = around(0.0), around(0.5), around(1.0)
        print(
            f"| {name} | {first:.1f} MB | {middle:.1f} MB | {last:.1f} MB | "
            f"{middle - first:+.1f} MB ({(middle - first) / first:+.1%}) | "
            f"{last - middle:+.1f} MB ({(last - middle) / middle:+.1%}) |"
        )
    outcomes = result["outcomes"]
    print(
        "Answers: "
        + ", ".join(f"{count} {name}" for name, count in sorted(outcomes.items()))
        + " (completed: done with exactly the engine's text)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, help="how long to measure (at least 30 to show a trend)")
    parser.add_argument("--warmup", type=float, default=2.0, help="minutes of traffic before the first sample")
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--turns", type=int, default=10, help="answers per conversation before a new one")
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0, help="tokens per second per answer")
    parser.add_argument("--sample", type=float, default=30.0, help="seconds between RSS samples")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="for the worker and daphne (repeatable)"
    )
    parser.add_argument("--probe", action="store_true", help="log the Python object types that grow")
    parser.add_argument("--progress", action="store_true", help="print every sample")
    args = parser.parse_args()
    if args.minutes is None:
        print("The soak runs for half an hour or more: run it with `make soak` or `--minutes N`.")
        return

    # A prefix and queue of its own: two soaks (one per setting compared) may share a Redis.
    env = benchmark_environment(
        f"soak{os.getpid()}",
        INFERENCE_MODEL="relay-bench",
        LOG_LEVEL="WARNING",
        MAX_ACTIVE_ANSWERS_PER_USER="0",
        **dict(setting.split("=", 1) for setting in args.env),
    )
    data_dir = Path(env["DATA_DIR"])
    engine_port = free_port()
    env["INFERENCE_URL"] = f"http://127.0.0.1:{engine_port}/v1"
    runner = Processes(env)
    runner.ensure_redis()
    migrate(env)
    os.environ.update(env)
    import django

    django.setup()
    wrap = (
        (lambda name: ["-m", "benchmarks.soak", "--run-probed", str(data_dir / f"{name}.probe")])
        if args.probe
        else (lambda name: [])
    )
    try:
        runner.adopt(EngineProcess(engine_port, env=env, output=runner.log).process)
        worker_args = ["celery", "-A", "chatapp", "worker", "--pool", "threads", "--concurrency", "32"]
        worker = runner.start(
            *(wrap("worker") or ["-m"]), *worker_args, "--queues", env["CELERY_QUEUE"], "--loglevel", "WARNING"
        )
        web_port = free_port()
        web = runner.start(
            *(wrap("web") or ["-m"]),
            "daphne",
            "--bind",
            "127.0.0.1",
            "--port",
            str(web_port),
            "chatapp.asgi:application",
        )
        wait_for(f"http://127.0.0.1:{web_port}/accounts/login/", process=web)
        cookies = sign_in(args.conversations)
        processes = {"worker": psutil.Process(worker.pid), "daphne": psutil.Process(web.pid)}
        result = asyncio.run(soak(args, f"ws://127.0.0.1:{web_port}/ws/chat/", cookies, processes))
        report(result, args)
        if args.probe:
            print(f"Object growth logs: {data_dir}/worker.probe, {data_dir}/web.probe")
    finally:
        runner.stop()


def run_probed() -> None:
    """`python -m benchmarks.soak --run-probed FILE MODULE ARGS...`: run MODULE with the probe on."""
    path, module, *rest = sys.argv[2:]
    probe(path)
    sys.argv = [module, *rest]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--run-probed"]:
        run_probed()
    else:
        main()
