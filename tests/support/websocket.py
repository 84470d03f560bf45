"""The browser's websocket to the chat, without a browser, and what to look for in its frames."""

import asyncio
import faulthandler
import json
import sys

from asgiref.sync import sync_to_async
from django.test import Client

from chatapp.chat.chunks import Answer

ORIGIN = b"http://127.0.0.1"


@sync_to_async
def session_cookie(user):
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def open_socket(user=None, origin=ORIGIN):
    """A websocket to the chat, signed in as `user`; None when the server refuses it."""
    from channels.testing import WebsocketCommunicator

    from chatapp.asgi import application

    headers = [(b"origin", origin), (b"host", b"127.0.0.1")]
    if user is not None:
        headers.append((b"cookie", f"sessionid={await session_cookie(user)}".encode()))
    websocket = WebsocketCommunicator(application, "/ws/chat/", headers=headers)
    connected, _ = await websocket.connect()
    return websocket if connected else None


async def receive_until(websocket, done, timeout=60):
    """Collect frames until `done(frame)` is true; returns every frame seen."""
    frames = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"timed out; frames so far: {json.dumps(frames)[:2000]}")
        try:
            frame = await websocket.receive_json_from(timeout=remaining)
        except TimeoutError:
            # Where every thread was when the frame did not come.
            faulthandler.dump_traceback(file=sys.__stderr__, all_threads=True)
            raise AssertionError(f"timed out; frames so far: {json.dumps(frames)[:3000]}") from None
        frames.append(frame)
        if done(frame):
            return frames


def finished(message_id=None):
    """A check of a frame: an answer (`message_id`'s, or any) has ended."""

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
    """The id of the first answer among `frames`, or None."""
    for frame in frames:
        message = frame.get("message") or {}
        if frame.get("type") == "message" and message.get("role") == "assistant":
            return message["id"]
    return None


def streamed(frames, message_id, answer=None):
    """`message_id`'s answer as its chunks among `frames` build it (onto `answer`, when given), by chat.js's rules."""
    answer = answer or Answer()
    for frame in frames:
        if frame.get("type") == "chunk" and frame["message_id"] == message_id:
            answer.apply_chunk(frame)
    return answer


@sync_to_async
def reload(message_id):
    from chatapp.chat.models import Message

    return Message.objects.get(pk=message_id)
