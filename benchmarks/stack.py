"""The app's processes, started for a benchmark run: inference, worker, daphne, Chromium."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


class Processes:
    """Subprocesses sharing one environment, their output in DATA_DIR/processes.log."""

    def __init__(self, env):
        self.env = env
        self.running = []
        self.log = open(Path(env["DATA_DIR"]) / "processes.log", "a")

    def start(self, *args):
        process = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT
        )
        self.running.append(process)
        return process

    def start_app(self, queue, inference_port, web_port, concurrency):
        """The CPU model, one Celery worker on `queue` and daphne; returns once they answer."""
        self.start("-m", "inference", "--port", str(inference_port))
        self.start(
            "-m", "celery", "-A", "chatapp", "worker", "--pool", "threads", "--concurrency", str(concurrency),
            "--queues", queue, "--loglevel", "WARNING",
        )
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
