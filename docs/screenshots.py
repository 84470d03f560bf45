"""The README's screenshots of the chat page: `python docs/screenshots.py` writes docs/chat-*.png.

A throwaway SQLite database is seeded with a few conversations and served by
daphne (no worker or model: the page shows what is saved); Chromium takes the
light, dark and phone pictures.
"""

import subprocess
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.stack import Processes, benchmark_environment, free_port, launch_chromium, migrate, wait_for  # noqa: E402

PASSWORD = "screenshots-only"
SEED = (
    f"PASSWORD = {PASSWORD!r}\n"
    """
from datetime import timedelta
from django.contrib.auth.models import User
from django.utils import timezone
from chatapp.chat.models import Conversation, Message

alice = User.objects.create_user("alice", password=PASSWORD)
now = timezone.now()
MODEL = "Ministral-3-3B"


def conversation(title, age, turns=(), source="web", pinned=False):
    chat = Conversation.objects.create(
        owner=alice, title=title, source=source, updated_at=now - age, created_at=now - age,
        pinned_at=now if pinned else None,
    )
    parent = None
    for question, answer in turns:
        parent = Message.objects.create(conversation=chat, role="user", content=question, parent=parent)
        parent = Message.objects.create(
            conversation=chat, role="assistant", content=answer, parent=parent, model=MODEL, duration=3.4
        )
    chat.current = parent
    chat.save()
    return chat


conversation("Onboarding notes", timedelta(days=40))
conversation("VPN address", timedelta(days=3))
conversation("Release checklist", timedelta(days=9), pinned=True)
conversation("Nightly report", timedelta(hours=2), source="api")
chat = conversation("Parsing dates in Python", timedelta(minutes=5), [
    ("How do I parse an ISO 8601 date in Python?",
     "Use `datetime.fromisoformat`:\\n\\n```python\\nfrom datetime import datetime\\n\\n"
     "when = datetime.fromisoformat(\\"2026-12-01T08:30:00+00:00\\")\\nprint(when.year)\\n```\\n\\n"
     "It accepts the formats `isoformat()` writes, and since Python 3.11 most of ISO 8601."),
    ("And with a time zone name like Europe/Paris?",
     "Attach a `ZoneInfo`:\\n\\n```python\\nfrom zoneinfo import ZoneInfo\\n"
     "when = when.astimezone(ZoneInfo(\\"Europe/Paris\\"))\\n```\\n\\n"
     "| Step | Call |\\n|:--|:--|\\n| parse | `fromisoformat` |\\n| convert | `astimezone` |"),
])
# The last answer was retried after a failure: the failed one is version 1 of 2.
last = chat.current
Message.objects.create(
    conversation=chat, role="assistant", parent=last.parent, model=MODEL, status="error", content="Attach",
    error="The worker writing this answer stopped unexpectedly.", error_code="worker_lost",
    created_at=last.created_at - timedelta(seconds=30),
)
Message.objects.filter(pk=last.pk).update(created_at=now)
print(chat.pk)
"""
)


def main() -> None:
    env = benchmark_environment("screenshots", INFERENCE_MODEL="mistralai/Ministral-3-3B-Instruct-2512")
    migrate(env)
    seeded = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SEED],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    conversation_id = int(seeded.stdout.strip().splitlines()[-1])
    processes = Processes(env)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    try:
        processes.ensure_redis()
        processes.start_web(port)
        wait_for(f"{url}/accounts/login/")
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            shots = [
                ("chat-light.png", {"viewport": {"width": 1280, "height": 800}, "color_scheme": "light"}, True),
                ("chat-dark.png", {"viewport": {"width": 1280, "height": 800}, "color_scheme": "dark"}, False),
                (
                    "chat-phone.png",
                    {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "color_scheme": "light"},
                    False,
                ),
            ]
            for name, options, open_menu in shots:
                context = browser.new_context(**options)
                page = context.new_page()
                page.goto(f"{url}/accounts/login/")
                page.fill("input[name=username]", "alice")
                page.fill("input[name=password]", PASSWORD)
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_url(f"{url}/")
                page.goto(f"{url}/c/{conversation_id}/")
                page.wait_for_function("() => document.querySelector('#connection-state').textContent === ''")
                if open_menu:
                    page.get_by_role("button", name="Conversation actions").click()
                page.screenshot(path=ROOT / "docs" / name)
                context.close()
            browser.close()
    finally:
        processes.stop()
    print("Wrote docs/chat-light.png, docs/chat-dark.png, docs/chat-phone.png")


if __name__ == "__main__":
    main()
