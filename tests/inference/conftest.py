"""The real CPU inference service for these tests, plus small fault servers.

The service runs as `python -m inference` in a subprocess with a tiny queue so that
"queue full" can be reached with a handful of requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.processes import free_port, stop_process

ROOT = Path(__file__).resolve().parents[2]
QUEUE_SIZE = 2


@dataclass
class Service:
    url: str  # http://host:port
    process: subprocess.Popen
    queue_size: int  # requests it holds waiting beside the one it generates for

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    async def health(self) -> dict:
        async with httpx.AsyncClient() as http:
            return (await http.get(self.url + "/health", timeout=5)).json()

    async def wait_until(self, predicate, timeout: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            health = await self.health()
            if predicate(health):
                return health
            if time.monotonic() > deadline:
                raise AssertionError(f"service never reached the expected state; last /health: {health}")
            await asyncio.sleep(0.02)

    async def wait_idle(self, timeout: float = 30.0) -> dict:
        return await self.wait_until(lambda h: not h["busy"] and h["queued"] == 0, timeout)


@pytest.fixture(scope="session")
def service():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "inference", "--port", str(port), "--queue-size", str(QUEUE_SIZE), "--record-prompts"],
        cwd=ROOT,
        env={**os.environ, "INFERENCE_LOG_LEVEL": "warning"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the inference service exited with {process.returncode}")
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the inference service did not start within 60 s")
            time.sleep(0.05)
        yield Service(url=url, process=process, queue_size=QUEUE_SIZE)
    finally:
        stop_process(process)


@pytest.fixture
async def idle_service(service):
    """The service, with nothing left running or queued by an earlier test."""
    await service.wait_idle()
    return service


@pytest.fixture
async def fault_server():
    """Start a raw TCP server whose handler writes whatever bytes a fault needs.

    ``await fault_server(handler)`` returns a base URL ending in /v1; the handler gets
    (request_bytes, writer) after the request has been read completely.

    Not the fake engine (benchmarks/fake_engine.py), which every other test uses: these
    tests are of the HTTP client's edge, byte by byte (a chunk cut in half, a malformed
    event, the request's headers as sent), which an HTTP server framework cannot be made
    to write or hands over already parsed.
    """
    servers = []

    async def start(handler) -> str:
        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.decode("latin-1").split("\r\n"):
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                body = await reader.readexactly(length) if length else b""
                await handler(head + body, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    writer.close()

        server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1"

    yield start
    for server in servers:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 2)
