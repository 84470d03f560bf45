import os
import secrets
import time
from pathlib import Path
from typing import TypedDict, Unpack

import httpx
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

RULE = "─" * 64


class Options(TypedDict):
    """The options this command reads."""

    welcome: str | None
    timeout: float


class Command(BaseCommand):
    help = (
        "Create the first admin account if there is none, and say how to sign in. "
        "With --welcome, wait until the web server answers, then print the address and the sign-in last."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--welcome",
            metavar="URL",
            help="The chat's address: wait until it answers, then print it with the admin's sign-in in a box.",
        )
        parser.add_argument("--timeout", type=float, default=300.0, help="Seconds to wait for --welcome's URL.")

    def handle(self, *args: str, **options: Unpack[Options]) -> None:
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "admin")
        created = self.ensure_admin(username)
        if options["welcome"]:
            self.welcome(options["welcome"].rstrip("/"), username, options["timeout"])
        elif created:
            self.stdout.write(self.style.SUCCESS(f"Created the admin account {username!r}."))
            self.stdout.write(self.sign_in(username))
        else:
            self.stdout.write(self.sign_in(username))

    @property
    def remembered(self) -> Path:
        return settings.DATA_DIR / "admin-password.txt"

    def ensure_admin(self, username: str) -> bool:
        """Create the admin if there is no superuser; a generated password is kept in DATA_DIR."""
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            return False
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        if not password:
            password = secrets.token_urlsafe(12)
            settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
            self.remembered.write_text(password + "\n")
            self.remembered.chmod(0o600)
        User.objects.create_superuser(username=username, email="", password=password)
        return True

    def sign_in(self, username: str) -> str:
        if os.environ.get("DJANGO_SUPERUSER_PASSWORD"):
            return f"Sign in as {username} with the password in DJANGO_SUPERUSER_PASSWORD."
        if self.remembered.exists() and get_user_model().objects.filter(username=username, is_superuser=True).exists():
            password = self.remembered.read_text().strip()
            where = self.remembered
            shown = where.relative_to(settings.BASE_DIR) if where.is_relative_to(settings.BASE_DIR) else where
            return f"Sign in as {username} with the password {password} (kept in {shown})."
        return "Sign in with your admin account."

    def wait_for_a_worker(self, deadline: float) -> None:
        """Until a Celery worker answers: its start-up banner ends above the welcome, not below it."""
        from chatapp.celery import app

        while time.monotonic() < deadline:
            try:
                if app.control.ping(timeout=1.0):
                    time.sleep(1.0)  # the worker's "ready" line follows its first reply
                    return
            except Exception:  # noqa: BLE001  # the broker not up yet: ask again
                time.sleep(0.5)

    def welcome(self, url: str, username: str, timeout: float) -> None:
        """The last thing a first run prints: the processes' start-up lines are above it, not below."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stderr.write(f"{url} did not answer within {timeout:.0f} s: see the lines above.")
                return
            time.sleep(0.5)
        self.wait_for_a_worker(deadline)
        lines = [
            RULE,
            f"  The chat is ready: open {url}",
            f"  {self.sign_in(username)}",
            "  No line per request or periodic task from here on, so this stays in view:",
            "  TASK_LOG_LEVEL=INFO ACCESS_LOG=1 make run shows them.",
            "  Ctrl-C stops everything.",
            RULE,
        ]
        self.stdout.write("\n".join(lines))
        self.stdout.flush()
