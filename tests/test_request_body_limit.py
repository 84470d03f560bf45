"""A request body over its limit is refused with 413 before anything buffers it.

As found: anonymous bodies of any size were written to disk (twice) before
being refused. The application is driven through ASGI directly, so that what
it reads of the body is counted.
"""

import asyncio

import pytest

from chatapp.asgi import application

pytestmark = pytest.mark.django_db


async def call(path, headers, chunks):
    """Run one request; returns (status, bytes of the body the application read)."""
    read = 0
    pending = list(chunks)
    sent = []

    async def receive():
        nonlocal read
        if not pending:
            await asyncio.Event().wait()  # the client waits for the answer
        chunk = pending.pop(0)
        read += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    await application(scope, receive, send)
    return sent[0]["status"], read


async def test_a_declared_300_mb_body_is_refused_before_one_byte_is_read(settings):
    status, read = await call("/accounts/login/", [(b"content-length", str(300 * 2**20).encode())], [b"x" * 1024])
    assert (status, read) == (413, 0)


async def test_a_body_without_a_length_is_cut_off_where_it_passes_the_limit(settings):
    settings.REQUEST_MAX_BYTES = 100_000
    status, read = await call("/accounts/login/", [(b"transfer-encoding", b"chunked")], [b"x" * 60_000] * 50)
    assert status == 413 and read <= 120_000


async def test_the_api_has_its_own_larger_limit(settings):
    settings.REQUEST_MAX_BYTES = 1000
    settings.API_MAX_REQUEST_BYTES = 5000
    status, _ = await call("/v1/chat/completions", [(b"content-length", b"3000")], [b"{" * 3000])
    assert status != 413  # refused further in, for the missing token
    status, _ = await call("/v1/chat/completions", [(b"content-length", b"6000")], [b"{" * 6000])
    assert status == 413
