"""A client that reconnects asks for "everything after chunk N" and gets exactly that."""

import pytest

from chatapp.chat.models import Message
from tests.support.websocket import finished, receive_until, reload, reply_in, streamed

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("worker", "model_service")]

LONG_QUESTION = "Write a detailed paragraph about the history of bridges."


async def test_reconnecting_mid_stream_yields_exactly_the_missing_text(alice, socket_for):
    first = await socket_for(alice)
    await first.send_json_to({"type": "send", "conversation_id": None, "text": LONG_QUESTION})
    frames = await receive_until(first, lambda f: f["type"] == "chunk" and f["seq"] >= 2)
    reply_id = reply_in(frames)
    conversation_id = next(f for f in frames if f["type"] == "created")["conversation"]["id"]
    answer = streamed(frames, reply_id)
    await first.disconnect()  # like closing the tab mid-answer

    second = await socket_for(alice)
    await second.send_json_to({"type": "open", "conversation_id": conversation_id})
    await second.send_json_to(answer.resume(reply_id))
    rest = await receive_until(second, finished(reply_id))

    streamed(rest, reply_id, answer)
    final = rest[-1]["message"]
    reply = await reload(reply_id)
    assert reply.status == Message.Status.DONE
    assert answer.text == reply.content
    assert final["status"] == "done" and final["seq"] == answer.seq == reply.seq


async def test_resuming_a_finished_answer_gets_the_saved_message(alice, socket_for):
    socket = await socket_for(alice)
    await socket.send_json_to({"type": "send", "conversation_id": None, "text": "Say hi."})
    frames = await receive_until(socket, finished())
    reply_id = reply_in(frames)

    await socket.send_json_to({"type": "resume", "message_id": reply_id, "after": 0, "attempt": 1})
    [frame] = await receive_until(socket, lambda f: f["type"] in ("message", "chunk"))
    reply = await reload(reply_id)
    if frame["type"] == "chunk":  # the log is still there: the whole text after chunk 0
        assert frame["delta"] == reply.content and frame["seq"] == reply.seq
    else:
        assert frame["message"]["content"] == reply.content and frame["message"]["status"] == "done"
