import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from chatapp.asgi import application
from chatapp.chat.models import Message

ORIGIN = b"http://127.0.0.1"


@sync_to_async
def session_cookie(user):
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def open_socket(user=None, origin=ORIGIN):
    headers = [(b"origin", origin), (b"host", b"127.0.0.1")]
    if user is not None:
        headers.append((b"cookie", f"sessionid={await session_cookie(user)}".encode()))
    socket = WebsocketCommunicator(application, "/ws/chat/", headers=headers)
    connected, _ = await socket.connect()
    return socket if connected else None


async def receive_until(socket, done, timeout=60):
    """Collect frames until `done(frame)` is true; returns every frame seen."""
    frames = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"timed out; frames so far: {json.dumps(frames)[:2000]}")
        try:
            frame = await socket.receive_json_from(timeout=remaining)
        except asyncio.TimeoutError:
            import faulthandler, sys
            faulthandler.dump_traceback(file=sys.__stderr__, all_threads=True)
            raise AssertionError(f"timed out; frames so far: {json.dumps(frames)[:3000]}") from None
        frames.append(frame)
        if done(frame):
            return frames


def finished(message_id=None):
    def check(frame):
        message = frame.get("message") or {}
        return (
            frame.get("type") == "message"
            and message.get("role") == "assistant"
            and (message_id is None or message.get("id") == message_id)
            and message.get("status") in ("done", "stopped", "error")
        )

    return check


def reply_in(frames):
    for frame in frames:
        message = frame.get("message") or {}
        if frame.get("type") == "message" and message.get("role") == "assistant":
            return message["id"]
    return None


@sync_to_async
def reload(message_id):
    return Message.objects.get(pk=message_id)


@pytest.fixture
async def socket_for():
    """Connect as a user; every socket opened is closed after the test."""
    sockets = []

    async def connect(user, **kwargs):
        socket = await open_socket(user, **kwargs)
        if socket is not None:
            sockets.append(socket)
        return socket

    yield connect
    for socket in sockets:
        await socket.disconnect()
