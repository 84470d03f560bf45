"""Time to first token through the OpenAI-compatible API against the browser's websocket.

    python -m benchmarks.api [--rounds 8]

Both ask the same question of the same stack (daphne, a Celery worker, the CPU
inference service) and time, at the client, from sending the question to the
first text of the answer: the API with the official `openai` client streaming
server-sent events, the websocket from a page of the app in Chromium speaking
the chat's own protocol. Each round asks both, in alternating order, a question of its own
(the engine caches prompt prefixes: the second asker of a round gets the
cached prompt, so the order alternates to share that advantage).
"""

import argparse
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

from openai import OpenAI
from playwright.sync_api import sync_playwright

from benchmarks.stack import NO_USER_LIMITS, Processes, free_port, launch_chromium

QUESTION = "In two sentences, why do teams write code reviews? (round {round})"


def prepare(env):
    """Migrate, and make a user with a session cookie and an API token."""
    import django

    os.environ.update(env)
    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from chatapp.api.actions import create_token
    from chatapp.chat.models import Bot

    call_command("migrate", "--noinput", verbosity=0)
    user, _ = get_user_model().objects.get_or_create(username="bench-api")
    Bot.objects.get_or_create(slug="assistant", defaults={"name": "Assistant", "is_default": True})
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value, create_token(user, "benchmark")[1]


def api_first_token(client, question):
    started = time.monotonic()
    first = None
    stream = client.chat.completions.create(
        model="assistant", messages=[{"role": "user", "content": question}], stream=True
    )
    for chunk in stream:
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.monotonic() - started
    return first, time.monotonic() - started


# The chat's websocket protocol, spoken from a page of the app in Chromium: the
# socket is open before the clock starts, as it is in the chat page.
WEBSOCKET_ASK = """async ({url, question}) => {
    const socket = new WebSocket(url);
    await new Promise((resolve, reject) => { socket.onopen = resolve; socket.onerror = reject; });
    return await new Promise((resolve, reject) => {
        const started = performance.now();
        let first = null;
        socket.onmessage = (event) => {
            const frame = JSON.parse(event.data);
            if (first === null && frame.type === "chunk" && frame.delta) first = performance.now() - started;
            const message = frame.message || {};
            if (frame.type === "message" && message.role === "assistant" && ["done", "stopped", "error"].includes(message.status)) {
                socket.close();
                resolve([first / 1000, (performance.now() - started) / 1000]);
            }
        };
        setTimeout(() => reject(new Error("no answer within 120 s")), 120000);
        socket.send(JSON.stringify({type: "send", conversation_id: null, text: question}));
    });
}"""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="chatapp-bench-api-"))
    prefix = f"chatapp-bench-api-{os.getpid()}"
    inference_port, web_port = free_port(), free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "chatapp.settings",
        "DATA_DIR": str(data_dir),
        "CHANNEL_PREFIX": prefix,
        "CELERY_QUEUE": prefix,
        "INFERENCE_URL": f"http://127.0.0.1:{inference_port}/v1",
        "INFERENCE_MAX_TOKENS": "64",
        "API_RATE_LIMIT": "",
        **NO_USER_LIMITS,
    }
    # Never the real database: a throwaway one unless BENCHMARK_DATABASE_URL names another.
    env["DATABASE_URL"] = os.environ.get("BENCHMARK_DATABASE_URL", f"sqlite:///{data_dir / 'bench.sqlite3'}")
    session, key = prepare(env)
    logging.getLogger("httpx2").setLevel(logging.WARNING)  # one line per request otherwise

    processes = Processes(env)
    results = {"api": [], "websocket": []}
    try:
        base_url = processes.start_app(prefix, inference_port, web_port, concurrency=4)
        with (
            OpenAI(base_url=f"{base_url}/v1", api_key=key, max_retries=0, timeout=120) as client,
            sync_playwright() as playwright,
        ):
            browser = launch_chromium(playwright)
            context = browser.new_context()
            context.add_cookies([{"name": "sessionid", "value": session, "url": base_url}])
            page = context.new_page()
            page.goto(f"{base_url}/accounts/login/")
            socket_url = f"ws://127.0.0.1:{web_port}/ws/chat/"

            def ask(path, question):
                if path == "api":
                    return api_first_token(client, question)
                return tuple(page.evaluate(WEBSOCKET_ASK, {"url": socket_url, "question": question}))

            ask("api", QUESTION.format(round="warm-up"))
            ask("websocket", QUESTION.format(round="warm-up"))
            for number in range(args.rounds):
                order = ["api", "websocket"] if number % 2 == 0 else ["websocket", "api"]
                for path in order:
                    results[path].append(ask(path, QUESTION.format(round=number)))
            browser.close()
    finally:
        processes.stop()

    print(f"time to first token, {args.rounds} rounds, same questions (median, min–max):")
    for path, label in (("api", "API (openai client, SSE)"), ("websocket", "websocket (browser protocol)")):
        firsts = [first for first, _ in results[path]]
        totals = [total for _, total in results[path]]
        print(
            f"  {label:30} {statistics.median(firsts) * 1000:6.0f} ms  ({min(firsts) * 1000:.0f}–{max(firsts) * 1000:.0f}); "
            f"whole answer {statistics.median(totals) * 1000:.0f} ms"
        )
    difference = statistics.median(f for f, _ in results["api"]) - statistics.median(f for f, _ in results["websocket"])
    print(f"  API minus websocket (medians): {difference * 1000:+.0f} ms")


if __name__ == "__main__":
    main()
