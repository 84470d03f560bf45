"""An answer cut at the length limit says so, and Continue writes on from where it stopped, in the same answer."""

import pytest

from benchmarks.fake_engine import answer_text
from chatapp.chat.models import Message
from tests.support.websocket import finished, receive_until, reload, reply_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("worker")]


@pytest.fixture
def short_answers(settings, vllm_stand_in):
    settings.INFERENCE_MAX_TOKENS = 10
    return vllm_stand_in


async def ask(socket, text):
    await socket.send_json_to({"type": "send", "conversation_id": None, "text": text})
    frames = await receive_until(socket, finished())
    return frames, await reload(reply_in(frames))


async def test_an_answer_that_reaches_the_limit_is_saved_and_shown_as_cut(alice, socket_for, short_answers):
    frames, reply = await ask(await socket_for(alice), "seed=7 tokens=25 rate=500")

    assert reply.status == Message.Status.DONE and reply.content == answer_text(7, 10)
    assert reply.finish_reason == Message.FinishReason.LENGTH
    assert frames[-1]["message"]["finish_reason"] == "length"


async def test_continue_appends_to_the_same_answer_until_the_model_ends_it(alice, socket_for, short_answers):
    socket = await socket_for(alice)
    _, reply = await ask(socket, "seed=7 tokens=25 rate=500")

    await socket.send_json_to({"type": "continue", "message_id": reply.pk})
    frames = await receive_until(socket, finished(reply.pk))
    reply = await reload(reply.pk)
    assert reply.content == answer_text(7, 20) and reply.finish_reason == "length"
    # The new attempt's first chunk carries the whole text, rendered: the page shows it at once.
    first = next(f for f in frames if f["type"] == "chunk")
    assert first["attempt"] == 2 and first["seq"] == 1 and first["html"]
    assert first["delta"].startswith(answer_text(7, 10))

    await socket.send_json_to({"type": "continue", "message_id": reply.pk})
    await receive_until(socket, finished(reply.pk))
    reply = await reload(reply.pk)
    assert reply.content == answer_text(7, 25)
    assert (reply.status, reply.finish_reason) == (Message.Status.DONE, Message.FinishReason.STOP)
    assert reply.completion_tokens == 25
    # What the model was sent: the answer so far, last, to be written on from.
    last = short_answers.requests()[-1]
    assert last["messages"][-1] == {"role": "assistant", "content": answer_text(7, 20)}
    assert last["continue_final_message"] is True and last["add_generation_prompt"] is False


async def test_an_answer_that_ended_by_itself_cannot_be_continued(alice, socket_for, short_answers):
    socket = await socket_for(alice)
    _, reply = await ask(socket, "seed=7 tokens=5 rate=500")
    assert reply.finish_reason == Message.FinishReason.STOP

    await socket.send_json_to({"type": "continue", "message_id": reply.pk})
    frame = await socket.receive_json_from(timeout=10)
    assert frame["type"] == "error" and "length limit" in frame["error"]
    assert (await reload(reply.pk)).content == answer_text(7, 5)


async def test_nobody_continues_another_users_answer(alice, bob, socket_for, short_answers):
    _, reply = await ask(await socket_for(alice), "seed=7 tokens=25 rate=500")

    socket = await socket_for(bob)
    await socket.send_json_to({"type": "continue", "message_id": reply.pk})
    frame = await socket.receive_json_from(timeout=10)
    assert frame["type"] == "error"
    assert (await reload(reply.pk)).attempt == 1
