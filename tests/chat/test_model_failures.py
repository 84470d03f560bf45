"""When the model service is down or fails, the user sees why, keeps any text, and can retry."""

import pytest

from benchmarks.fake_engine import answer_text
from chatapp.chat.models import Message
from tests.support.websocket import finished, receive_until, reload, reply_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("worker")]


async def ask(socket, text="Tell me a story."):
    await socket.send_json_to({"type": "send", "conversation_id": None, "text": text})
    frames = await receive_until(socket, finished())
    return frames, await reload(reply_in(frames))


async def retry_against_the_real_service(socket, reply, settings, model_service):
    """Retry: a new version of the answer; the failed one stays as it was."""
    settings.INFERENCE_URL = model_service
    await socket.send_json_to({"type": "retry", "message_id": reply.pk})
    frames = await receive_until(
        socket,
        lambda f: (
            f["type"] == "message"
            and f["message"]["role"] == "assistant"
            and f["message"]["id"] != reply.pk
            and f["message"]["status"] == "done"
        ),
    )
    failed = await reload(reply.pk)
    assert (failed.status, failed.content, failed.error) == (reply.status, reply.content, reply.error)
    return await reload(frames[-1]["message"]["id"])


async def test_unreachable_service_gives_a_clear_error_and_retry_works_once_it_is_back(
    alice, socket_for, settings, inference_service
):
    settings.INFERENCE_URL = "http://127.0.0.1:9/v1"
    settings.ANSWER_QUEUE_TIMEOUT = 2  # how long an answer waits for a model that may be starting
    socket = await socket_for(alice)
    frames, reply = await ask(socket)

    assert (reply.status, reply.error_code) == (Message.Status.ERROR, Message.ErrorCode.UNAVAILABLE)
    assert "unreachable" in reply.error.lower()
    assert frames[-1]["message"]["error"] == reply.error
    assert await Message.objects.filter(role="user", content="Tell me a story.").aexists()

    reply = await retry_against_the_real_service(socket, reply, settings, inference_service)
    assert reply.status == Message.Status.DONE and reply.content


async def test_a_500_from_the_service_shows_its_reason(alice, socket_for, settings, inference_service, engine_faults):
    socket = await socket_for(alice)
    _, reply = await ask(socket, "Tell me a story. status=500")
    assert (reply.status, reply.error_code) == (Message.Status.ERROR, Message.ErrorCode.ENGINE_ERROR)
    assert "CUDA out of memory" in reply.error

    reply = await retry_against_the_real_service(socket, reply, settings, inference_service)
    assert reply.status == Message.Status.DONE


async def test_a_connection_dropped_mid_answer_keeps_the_partial_text(
    alice, socket_for, settings, inference_service, engine_faults
):
    socket = await socket_for(alice)
    frames, reply = await ask(socket, "Tell me a story. seed=7 drop_after=4")
    partial = answer_text(7, 4)
    assert reply.status == Message.Status.ERROR
    assert reply.content == partial
    assert "mid-answer" in reply.error or "closed" in reply.error.lower()
    assert frames[-1]["message"]["content"] == partial

    reply = await retry_against_the_real_service(socket, reply, settings, inference_service)
    assert reply.status == Message.Status.DONE and reply.content != partial


async def test_a_silent_engine_is_said_so_within_seconds_then_the_answer_times_out(
    alice, socket_for, settings, engine_faults
):
    settings.ANSWER_SILENCE_NOTICE = 1.0
    settings.INFERENCE_READ_TIMEOUT = 4.0
    settings.INFERENCE_FIRST_TOKEN_TIMEOUT = 4.0
    socket = await socket_for(alice)
    # Headers at once, then silence: an engine stuck behind other requests.
    await socket.send_json_to({"type": "send", "conversation_id": None, "text": "Anyone there? delay=60"})
    frames = await receive_until(socket, lambda f: f["type"] == "waiting", timeout=10)
    assert frames[-1]["reason"] == "engine_silent"
    frames = await receive_until(socket, finished(), timeout=20)
    reply = await reload(reply_in(frames))
    assert (reply.status, reply.error_code) == (Message.Status.ERROR, Message.ErrorCode.TIMEOUT)
    assert "did not start the answer in time" in reply.error  # silent before its first token
