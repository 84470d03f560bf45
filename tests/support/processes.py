"""Starting and stopping the real processes a test needs: free ports, waiting for HTTP, daphne serving the app."""

import os
import socket
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from benchmarks.stack import wait_for
from tests.support.accounts import FAST_HASHERS

ROOT = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url, process=None, timeout=60):
    """Until `url` answers below 500; fails early if `process` exits (the benchmarks' wait)."""
    wait_for(url, timeout=timeout, process=process)


def stop_process(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def database_url():
    """The test database, as DATABASE_URL says it to a process of the app."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@contextmanager
def serve_app(port=None, **env):
    """daphne serving the app over HTTP and websockets on the test database and Redis."""
    port = port or free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CHANNEL_PREFIX": settings.CHANNEL_PREFIX,
        "CELERY_QUEUE": settings.CHANNEL_PREFIX,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PASSWORD_HASHERS": ",".join(FAST_HASHERS),
        "LIMITS_PREFIX": settings.LIMITS_PREFIX,
        **env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "--bind", "127.0.0.1", "--port", str(port), "chatapp.asgi:application"],
        cwd=ROOT,
        env=env,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/accounts/login/", process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process)
