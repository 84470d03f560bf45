import asyncio

import httpx
import pytest
from asgiref.sync import sync_to_async

from chatapp.chat import actions
from chatapp.chat.models import Message
from chatapp.chat.tasks import generate_reply
from tests.support.websocket import finished, receive_until, reload, reply_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("worker")]


async def engine_busy(model_service):
    async with httpx.AsyncClient() as client:
        health = (await client.get(model_service.removesuffix("/v1") + "/health")).json()
    return health.get("busy"), health


async def test_stop_mid_stream_keeps_the_partial_answer_and_frees_the_engine(alice, socket_for, model_service):
    socket = await socket_for(alice)
    await socket.send_json_to(
        {"type": "send", "conversation_id": None, "text": "Write a very long story about a dragon."}
    )
    frames = await receive_until(socket, lambda f: f["type"] == "chunk" and f["seq"] >= 2)
    reply_id = reply_in(frames)

    await socket.send_json_to({"type": "stop", "message_id": reply_id})
    frames += await receive_until(socket, finished(reply_id))

    reply = await reload(reply_id)
    assert reply.status == Message.Status.STOPPED
    assert reply.content and reply.content == "".join(f["delta"] for f in frames if f["type"] == "chunk")
    for _ in range(20):  # the service notices the closed stream between two tokens
        busy, health = await engine_busy(model_service)
        if not busy:
            break
        await asyncio.sleep(0.1)
    assert not busy, health


async def test_stop_from_another_tab_works(alice, socket_for, model_service):
    tab_one = await socket_for(alice)
    await tab_one.send_json_to(
        {"type": "send", "conversation_id": None, "text": "Write a very long story about a cat."}
    )
    frames = await receive_until(tab_one, lambda f: f["type"] == "chunk")
    reply_id = reply_in(frames)

    tab_two = await socket_for(alice)
    await tab_two.send_json_to({"type": "stop", "message_id": reply_id})
    await receive_until(tab_one, finished(reply_id))
    assert (await reload(reply_id)).status == Message.Status.STOPPED


async def test_an_answer_stopped_before_it_starts_never_runs(alice, socket_for, no_worker):
    # The task is held back, so the answer is still queued when Stop arrives.
    reply = (await sync_to_async(actions.send_message)(alice, "Hello?")).reply
    socket = await socket_for(alice)
    await socket.send_json_to({"type": "open", "conversation_id": reply.conversation_id})
    await socket.send_json_to({"type": "stop", "message_id": reply.pk})
    await receive_until(socket, lambda f: f["type"] == "message" and f["message"]["status"] == "stopped", timeout=10)

    await sync_to_async(generate_reply.run, thread_sensitive=False)(reply.pk)  # the task arrives late: nothing to do
    reply = await reload(reply.pk)
    assert reply.status == Message.Status.STOPPED
    assert reply.content == ""
