"""A worker told to shut down hands its answers back instead of cutting them silently.

The hand-back is triggered here the way Celery's SIGTERM handler triggers it
(`worker_shutting_down`), with a grace of zero; the fault suite sends a real
SIGTERM to a worker process.
"""

import pytest

from chatapp.chat.error_help import next_step
from chatapp.chat.models import Message
from chatapp.chat.relay import running_relay
from tests.support.websocket import finished, receive_until, reload, reply_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("worker")]


async def test_an_answer_with_text_ends_with_retry_and_keeps_its_text(alice, socket_for, model_service):
    socket = await socket_for(alice)
    await socket.send_json_to(
        {"type": "send", "conversation_id": None, "text": "Write a very long story about a lighthouse."}
    )
    frames = await receive_until(socket, lambda f: f["type"] == "chunk")
    running_relay().hand_back_after(0)
    frames += await receive_until(socket, finished())

    reply = await reload(reply_in(frames))
    assert (reply.status, reply.error_code) == (Message.Status.ERROR, Message.ErrorCode.WORKER_LOST)
    # The error says what happened, the next step (once) what to do.
    assert reply.content and "restarted" in reply.error and "Retry" not in reply.error
    assert next_step(reply) == "Press Retry to ask again."
    assert frames[-1]["message"]["content"] == reply.content


async def test_an_answer_with_no_text_yet_goes_back_to_the_queue(alice, socket_for, engine_faults):
    socket = await socket_for(alice)
    # The engine says nothing for a minute: the answer has no text when the worker shuts down.
    await socket.send_json_to({"type": "send", "conversation_id": None, "text": "Anyone there? delay=60"})
    frames = await receive_until(socket, lambda f: f.get("message", {}).get("status") == "streaming")
    running_relay().hand_back_after(0)
    frames = await receive_until(socket, lambda f: f.get("message", {}).get("status") == "queued")
    reply = await reload(reply_in(frames))
    assert reply.content == "" and reply.attempt == 1
    await socket.send_json_to({"type": "stop", "message_id": reply.pk})
    await receive_until(socket, finished(reply.pk))
