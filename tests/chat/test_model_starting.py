"""A model that is loading or restarting delays answers, never fails them, until ANSWER_QUEUE_TIMEOUT."""

import asyncio

import pytest

from benchmarks.fake_engine import answer_text
from chatapp.chat.models import Message
from tests.support.websocket import finished, receive_until, reload, reply_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("worker")]


def waiting_for_the_model(frame):
    return frame["type"] == "waiting" and frame["reason"] == "model_starting"


async def test_a_question_asked_while_the_model_loads_is_answered_once_it_is_ready(
    alice, socket_for, settings, vllm_stand_in
):
    settings.ANSWER_QUEUE_TIMEOUT = 60
    vllm_stand_in.configure(loading=True)
    socket = await socket_for(alice)
    await socket.send_json_to({"type": "send", "conversation_id": None, "text": "seed=9 tokens=8 rate=500"})

    await receive_until(socket, waiting_for_the_model, timeout=15)
    await asyncio.to_thread(vllm_stand_in.configure, loading=False)
    frames = await receive_until(socket, finished(), timeout=30)

    reply = await reload(reply_in(frames))
    assert reply.status == Message.Status.DONE and reply.content == answer_text(9, 8)


async def test_a_model_still_loading_after_the_queue_timeout_fails_the_answer_with_retry(
    alice, socket_for, settings, vllm_stand_in
):
    settings.ANSWER_QUEUE_TIMEOUT = 3
    vllm_stand_in.configure(loading=True)
    socket = await socket_for(alice)
    await socket.send_json_to({"type": "send", "conversation_id": None, "text": "seed=9 tokens=8 rate=500"})
    frames = await receive_until(socket, finished(), timeout=30)

    reply = await reload(reply_in(frames))
    assert (reply.status, reply.error_code) == (Message.Status.ERROR, Message.ErrorCode.UNAVAILABLE)
    assert "still so after" in reply.error and "s of waiting" in reply.error
    assert any(waiting_for_the_model(frame) for frame in frames)

    await asyncio.to_thread(vllm_stand_in.configure, loading=False)
    await socket.send_json_to({"type": "retry", "message_id": reply.pk})
    frames = await receive_until(socket, finished(), timeout=30)
    again = await reload(reply_in(frames))
    assert again.pk != reply.pk and again.content == answer_text(9, 8)
    assert (await reload(reply.pk)).status == Message.Status.ERROR  # the failed one stays, as version 1


async def test_a_restart_mid_answer_keeps_the_text_and_retry_answers_after_it(
    alice, socket_for, settings, vllm_stand_in
):
    settings.ANSWER_QUEUE_TIMEOUT = 60
    socket = await socket_for(alice)
    await socket.send_json_to({"type": "send", "conversation_id": None, "text": "seed=10 tokens=400 rate=40"})
    await receive_until(socket, lambda frame: frame["type"] == "chunk", timeout=15)
    await asyncio.to_thread(vllm_stand_in.restart, 2)
    frames = await receive_until(socket, finished(), timeout=30)

    reply = await reload(reply_in(frames))
    assert reply.status == Message.Status.ERROR and reply.content
    assert answer_text(10, 400).startswith(reply.content)

    # Asked again while the engine is still down: the answer waits for it.
    await socket.send_json_to({"type": "retry", "message_id": reply.pk})
    frames = await receive_until(socket, finished(), timeout=30)
    again = await reload(reply_in(frames))
    assert again.status == Message.Status.DONE and again.content == answer_text(10, 400)


async def test_stop_ends_an_answer_that_waits_for_the_model(alice, socket_for, settings, vllm_stand_in):
    settings.ANSWER_QUEUE_TIMEOUT = 60
    vllm_stand_in.configure(loading=True)
    socket = await socket_for(alice)
    await socket.send_json_to({"type": "send", "conversation_id": None, "text": "seed=9 tokens=8 rate=500"})
    frames = await receive_until(socket, waiting_for_the_model, timeout=15)

    await socket.send_json_to({"type": "stop", "message_id": frames[-1]["message_id"]})
    frames = await receive_until(socket, finished(), timeout=15)
    reply = await reload(reply_in(frames))
    assert reply.status == Message.Status.STOPPED and reply.content == ""
