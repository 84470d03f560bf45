"""Streaming figures: the rate a reader sees against the engine's own, and how many
answers one worker process holds at once.

    python -m benchmarks.streaming [--streams 150]

1. Engine: the CPU inference service's decode rate, asked directly.
2. Browser: the same kind of question through daphne → Celery → inference → Chromium;
   the page's text growth is timed in the page itself.
3. Concurrency: one Celery worker process (threads pool, as deployed) against the fake
   engine (benchmarks/fake_engine.py) writing at a fixed, human-like pace, so the worker,
   not the CPU model, is what is measured. It prints the most answers the engine
   streamed at once and the wall time against one answer alone.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from unittest.mock import patch

import httpx

from benchmarks.fake_engine import EngineProcess
from benchmarks.stack import ROOT, Processes, benchmark_environment, free_port, launch_chromium, migrate

PASSWORD = "benchmark-password"


# --- the measurements ---------------------------------------------------------------


QUESTION = "Write a paragraph about the history of tea."


def engine_rate(inference_url):
    started = time.monotonic()
    first = None
    with httpx.stream(
        "POST",
        f"{inference_url}/chat/completions",
        json={
            "model": "SmolLM2-135M-Instruct",
            "messages": [{"role": "user", "content": QUESTION}],
            "max_tokens": 256,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
        timeout=120,
    ) as response:
        usage = None
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("usage"):
                usage = chunk["usage"]
            elif chunk["choices"] and chunk["choices"][0]["delta"].get("content") and first is None:
                first = time.monotonic()
    end = time.monotonic()
    return usage["completion_tokens"] / (end - first), first - started


def browser_rate(base_url, username):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page()
        page.goto(f"{base_url}/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base_url}/")
        # Record, inside the page, when the answer's text changes.
        page.evaluate(
            """() => { window.growth = []; new MutationObserver(() => {
                const answer = document.querySelector('article.message.assistant');
                if (answer) window.growth.push([performance.now(), answer.innerText.length]);
            }).observe(document.getElementById('transcript'), {subtree: true, childList: true, characterData: true}); }"""
        )
        sent = time.monotonic()
        page.get_by_role("textbox", name="Message").fill(QUESTION)
        page.get_by_role("textbox", name="Message").press("Enter")
        page.locator('article.message.assistant[data-status="done"]').wait_for(timeout=120_000)
        growth = page.evaluate("window.growth")
        browser.close()
    return growth, sent


def concurrency_check(env, streams, tokens=40, interval=0.1):
    """One worker process, `streams` answers at once, each ~4 s at 10 tokens/s."""
    import django

    os.environ.update(env)
    django.setup()
    from django.contrib.auth import get_user_model

    from chatapp.chat import actions
    from chatapp.chat.models import Message

    port = free_port()
    worker_env = {**env, "INFERENCE_URL": f"http://127.0.0.1:{port}/v1"}
    processes = Processes(worker_env)
    engine = EngineProcess(port, env=env, output=processes.log)
    processes.adopt(engine.process)
    processes.start_worker(env["CELERY_QUEUE"], max(200, streams), extra=("--without-mingle", "--without-gossip"))
    try:
        time.sleep(4)
        user, _ = get_user_model().objects.get_or_create(username="bench-load")

        from chatapp.celery import app as celery_app
        from chatapp.chat.tasks import generate_reply

        def run(count):
            # Save every question first, then queue all answers at once, so the
            # figure is the worker's, not how fast this script writes rows.
            held: list[int] = []
            with patch.object(celery_app, "send_task", lambda name, args=(), *rest, **options: held.append(args[0])):
                replies = [
                    actions.send_message(user, f"question {i} tokens={tokens} rate={1 / interval:g}").reply.pk
                    for i in range(count)
                ]
            started = time.monotonic()
            for reply_id in held:
                generate_reply.delay(reply_id)
            while Message.objects.filter(pk__in=replies, status__in=Message.ACTIVE).exists():
                time.sleep(0.1)
            done = Message.objects.filter(pk__in=replies, status="done").count()
            return time.monotonic() - started, done

        one, _ = run(1)
        engine.reset()
        many, done = run(streams)
        return one, many, done, engine.streams()["most"]
    finally:
        processes.stop()


def browser_against_engine(env, prefix):
    inference_port, web_port = free_port(), free_port()
    inference_url = f"http://127.0.0.1:{inference_port}/v1"
    stack_env = {**env, "INFERENCE_URL": inference_url, "INFERENCE_MAX_TOKENS": "256"}
    processes = Processes(stack_env)
    try:
        base_url = processes.start_app(prefix, inference_port, web_port, concurrency=20)

        engine_tps, engine_ttft = engine_rate(inference_url)
        growth, _ = browser_rate(base_url, "bench")
    finally:
        processes.stop()

    import django

    os.environ.update(stack_env)
    django.setup()
    from chatapp.chat.models import Message

    reply = Message.objects.filter(role="assistant", conversation__owner__username="bench").latest("id")
    visible = [t for t, length in growth if length > 0]
    seen_seconds = (visible[-1] - visible[0]) / 1000
    browser_tps = (reply.completion_tokens - 1) / seen_seconds if seen_seconds > 0 else float("nan")
    updates = len({round(t) for t in visible})
    print(f"engine decode rate:         {engine_tps:7.1f} tokens/s (first token after {engine_ttft:.2f} s)")
    print(
        f"rate seen in the browser:   {browser_tps:7.1f} tokens/s ({reply.completion_tokens} tokens, "
        f"{updates} screen updates over {seen_seconds:.2f} s; first token {reply.time_to_first_token:.2f} s after queueing)"
    )
    print(f"browser / engine:           {browser_tps / engine_tps:7.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=150)
    parser.add_argument("--tokens", type=int, default=40, help="tokens per paced answer")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between paced tokens")
    parser.add_argument("--skip-browser", action="store_true", help="only the concurrency check")
    args = parser.parse_args()

    prefix = f"chatapp-bench-{os.getpid()}"
    env = benchmark_environment(prefix)
    migrate(env)
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from django.contrib.auth import get_user_model as g; U=g(); U.objects.filter(username='bench').delete(); "
            f"U.objects.create_user('bench', password='{PASSWORD}')",
        ],
        cwd=ROOT,
        env=env,
        check=True,
    )

    if not args.skip_browser:
        browser_against_engine(env, prefix)

    one, many, done, peak = concurrency_check(env, args.streams, args.tokens, args.interval)
    print(
        f"one worker process, {args.streams} answers at once ({args.tokens} tokens at {1 / args.interval:g} tokens/s each):"
    )
    print(f"  most answers streaming at the same moment: {peak}")
    print(f"  answers finished: {done}/{args.streams}")
    print(f"  wall time: one answer alone {one:.1f} s, {args.streams} together {many:.1f} s (ratio {many / one:.2f})")


if __name__ == "__main__":
    main()
