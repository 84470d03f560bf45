"""The chat page's cost in the browser, against the page of an earlier commit, in one run.

    python -m benchmarks.ui [--base main] [--messages 200] [--runs 3]

For a conversation of `--messages` messages (Markdown answers with code), each
tree (the base commit, checked out in a temporary git worktree, and this one)
is migrated into its own SQLite file and served by its own daphne and Celery
worker; Chromium then measures, per run in a fresh browser context:

- first contentful paint and "interactive" (DOMContentLoaded: every deferred
  script has run and the page answers input), in ms;
- bytes of HTML, JS and CSS the page loads (uncompressed, as daphne sends them);
- main-thread time per streamed chunk (Chrome's TaskDuration over the answer,
  divided by the chunks applied) while an answer of dense Markdown streams at
  `--rate` tokens/s from the fake engine (benchmarks/fake_engine.py, so the
  page, not a model, is measured).

Figures are medians over the runs, with the ratio current / base.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from benchmarks.fake_engine import EngineProcess
from benchmarks.stack import ROOT, Processes, free_port, launch_chromium, wait_for

PASSWORD = "benchmark-password"

SEED = """
import sys
from django.contrib.auth import get_user_model
from chatapp.chat.models import Bot, Conversation, Message
count = int(sys.argv[1])
Bot.objects.update(max_tokens=int(sys.argv[3]))
user = get_user_model().objects.create_user("bench", password=sys.argv[2])
conversation = Conversation.objects.create(owner=user, title="Benchmark conversation")
branches = hasattr(Message, "parent")
answer = (
    "Here is how it works, step by step:\\n\\n1. Read the **input**.\\n2. Parse it with `json.loads`.\\n"
    "3. Check each field.\\n\\n```python\\nimport json\\n\\ndef load(path):\\n    with open(path) as f:\\n"
    "        return json.load(f)\\n```\\n\\n| Field | Type |\\n|---|---|\\n| name | str |\\n| size | int |\\n\\n"
    "That is all; ask if a step is unclear."
)
previous = None
for index in range(count):
    role = "user" if index % 2 == 0 else "assistant"
    fields = dict(conversation=conversation, role=role, status="done", model="bench-engine",
                  content=f"Question {index}: how do I load a JSON file?" if role == "user" else answer)
    if branches:
        fields["parent"] = previous
    previous = Message.objects.create(**fields)
if branches:
    conversation.current = previous
    conversation.save()
print(conversation.pk)
"""


# --- one tree served ------------------------------------------------------------------


class Served:
    """A checkout migrated, seeded and served by its own daphne and worker."""

    def __init__(self, tree, label, engine_url, messages, tokens):
        self.tree, self.label = Path(tree), label
        self.data = Path(tempfile.mkdtemp(prefix=f"ui-bench-{label}-"))
        prefix = f"ui-bench-{label}-{uuid.uuid4().hex[:6]}"
        self.env = {
            **os.environ,
            "PYTHONPATH": str(self.tree),
            "DJANGO_SETTINGS_MODULE": "chatapp.settings",
            "DATA_DIR": str(self.data),
            "DATABASE_URL": f"sqlite:///{self.data / 'db.sqlite3'}",
            "CHANNEL_PREFIX": prefix,
            "CELERY_QUEUE": prefix,
            "INFERENCE_URL": engine_url,
            "INFERENCE_MODEL": "bench-engine",
            "INFERENCE_MAX_TOKENS": str(tokens),
            "PASSWORD_HASHERS": "django.contrib.auth.hashers.MD5PasswordHasher",
        }
        self.env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        self.processes = Processes(self.env, tree=self.tree)
        self.run("manage.py", "migrate", "--noinput", "-v0")
        seeded = subprocess.run(
            [
                sys.executable,
                "-c",
                "import django; django.setup(); import sys; exec(sys.stdin.read())",
                str(messages),
                PASSWORD,
                str(tokens),
            ],
            input=SEED,
            cwd=self.tree,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        self.conversation_id = int(seeded.stdout.strip().splitlines()[-1])
        port = free_port()
        self.processes.start_worker(prefix, 4)
        self.processes.start("-m", "daphne", "--port", str(port), "chatapp.asgi:application")
        self.url = f"http://127.0.0.1:{port}"
        wait_for(f"{self.url}/accounts/login/")

    def run(self, *args):
        subprocess.run(
            [sys.executable, *args],
            cwd=self.tree,
            env=self.env,
            check=True,
            stdout=self.processes.log,
            stderr=self.processes.log,
        )

    def stop(self):
        self.processes.stop()
        shutil.rmtree(self.data, ignore_errors=True)


def measure(browser, served, question):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto(f"{served.url}/accounts/login/")
    page.fill("input[name=username]", "bench")
    page.fill("input[name=password]", PASSWORD)
    page.locator("button[type=submit]").click()
    page.wait_for_url(f"{served.url}/")
    page.close()

    # A fresh page with the HTTP cache off: every byte of the page is counted and sent.
    page = context.new_page()
    page.set_default_timeout(120_000)
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    page.goto(f"{served.url}/c/{served.conversation_id}/", wait_until="load")
    timing = page.evaluate(
        """() => { const nav = performance.getEntriesByType('navigation')[0];
             const paint = performance.getEntriesByName('first-contentful-paint')[0];
             const bytes = (test) => performance.getEntriesByType('resource')
               .filter((r) => test(new URL(r.name).pathname)).reduce((sum, r) => sum + r.decodedBodySize, 0);
             return {fcp: paint ? paint.startTime : null, interactive: nav.domContentLoadedEventEnd,
                     load: nav.loadEventEnd, html: nav.decodedBodySize,
                     js: bytes((path) => path.endsWith('.js')), css: bytes((path) => path.endsWith('.css'))}; }"""
    )
    shown = page.locator("article.message").count()
    # Functions, not expressions: the page's CSP refuses to evaluate strings.
    page.wait_for_function(
        "() => document.getElementById('send-button') && !document.getElementById('send-button').disabled"
    )
    page.wait_for_timeout(500)  # the websocket opens

    cdp.send("Performance.enable")

    def metrics():
        return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}

    before = metrics()
    composer = page.locator("#message-input")
    composer.fill(question)
    composer.press("Enter")
    page.wait_for_function(
        f"() => document.querySelectorAll('article.message').length >= {shown + 2} && "
        "['done','stopped','error'].includes([...document.querySelectorAll('article.message.assistant')].pop().dataset.status)"
    )
    after = metrics()
    answer = page.locator("article.message.assistant").last
    chunks = int(answer.get_attribute("data-seq") or 0)
    status = answer.get_attribute("data-status")
    context.close()
    busy = after["TaskDuration"] - before["TaskDuration"]
    return {
        "first contentful paint (ms)": timing["fcp"],
        "interactive (ms)": timing["interactive"],
        "load (ms)": timing["load"],
        "HTML bytes": timing["html"],
        "JS bytes": timing["js"],
        "CSS bytes": timing["css"],
        "chunks streamed": chunks,
        "main thread per chunk (ms)": busy * 1000 / chunks if chunks else float("nan"),
        "script per chunk (ms)": (after["ScriptDuration"] - before["ScriptDuration"]) * 1000 / chunks
        if chunks
        else float("nan"),
        "layout+style per chunk (ms)": (
            (after["LayoutDuration"] - before["LayoutDuration"])
            + (after["RecalcStyleDuration"] - before["RecalcStyleDuration"])
        )
        * 1000
        / chunks
        if chunks
        else float("nan"),
        "_status": status,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--base", default="main", help="git revision to compare with (default: the merge base with main)"
    )
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=float, default=200.0, help="tokens/s the fake engine streams")
    parser.add_argument("--tokens", type=int, default=600, help="tokens in the streamed answer")
    args = parser.parse_args()
    # The fake engine reads its answer's length, pace and words from the question.
    question = f"Stream a long answer please. tokens={args.tokens} rate={args.rate:g} markdown=1"

    base = subprocess.run(
        ["git", "merge-base", "HEAD", args.base], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    base_tree = Path(tempfile.mkdtemp(prefix="ui-bench-base-"))
    subprocess.run(
        ["git", "worktree", "add", "--detach", "-f", str(base_tree), base], cwd=ROOT, check=True, capture_output=True
    )
    engine = None
    served = []
    try:
        # One write a token, as the engine's tick would otherwise group those due within it.
        engine = EngineProcess(model="bench-engine", env={**os.environ, "FAKE_ENGINE_TICK": str(1 / args.rate)})
        served = [
            Served(base_tree, "base", engine.base_url, args.messages, args.tokens),
            Served(ROOT, "current", engine.base_url, args.messages, args.tokens),
        ]
        from playwright.sync_api import sync_playwright

        results = {s.label: [] for s in served}
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            for _ in range(args.runs):
                for s in served:  # interleaved, so both see the same machine load
                    results[s.label].append(measure(browser, s, question))
            browser.close()
    finally:
        for s in served:
            s.stop()
        if engine:
            engine.close()
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(base_tree)], cwd=ROOT, capture_output=True, check=False
        )

    print(
        f"Chat page, {args.messages} messages, answer of {args.tokens} tokens at {args.rate:g} tokens/s, "
        f"median of {args.runs} runs; base {base[:10]}"
    )
    names = [name for name in results["base"][0] if not name.startswith("_")]
    print(f"{'':32} {'base':>10} {'current':>10} {'ratio':>7}")

    def median(label, name):
        values = [run[name] for run in results[label] if run[name] is not None]
        return statistics.median(values) if values else float("nan")

    for name in names:
        old, new = median("base", name), median("current", name)
        ratio = f"{new / old:.2f}" if old else "-"
        print(f"{name:32} {old:10.1f} {new:10.1f} {ratio:>7}")
    statuses = {label: [run["_status"] for run in runs] for label, runs in results.items()}
    print("answer statuses:", statuses)


if __name__ == "__main__":
    main()
