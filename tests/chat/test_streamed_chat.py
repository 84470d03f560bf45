import pytest

from chatapp.chat.models import Conversation, Message
from tests.support.websocket import finished, receive_until, reload, reply_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("worker", "model_service")]


async def test_answer_streams_in_several_chunks_and_is_saved_with_usage(alice, socket_for):
    socket = await socket_for(alice)
    await socket.send_json_to(
        {"type": "send", "ref": "r1", "conversation_id": None, "text": "Write three short sentences about the sea."}
    )

    frames = await receive_until(socket, finished())

    created = [f for f in frames if f["type"] == "created"]
    assert created and created[0]["ref"] == "r1"
    chunks = [f for f in frames if f["type"] == "chunk"]
    assert len(chunks) >= 3
    assert [c["seq"] for c in chunks] == list(range(1, len(chunks) + 1))
    reply = await reload(reply_in(frames))
    assert reply.status == Message.Status.DONE
    assert reply.content == "".join(c["delta"] for c in chunks)
    assert reply.content.strip()
    assert reply.completion_tokens and reply.prompt_tokens
    assert reply.time_to_first_token is not None and reply.duration >= reply.time_to_first_token
    question = await Message.objects.aget(conversation_id=reply.conversation_id, role="user")
    assert question.content == "Write three short sentences about the sea."
    conversation = await Conversation.objects.aget(pk=reply.conversation_id)
    assert conversation.title == "Write three short sentences about the sea."


async def test_the_final_frame_carries_rendered_html(alice, socket_for):
    socket = await socket_for(alice)
    await socket.send_json_to({"type": "send", "conversation_id": None, "text": "Say hello."})
    frames = await receive_until(socket, finished())
    final = frames[-1]["message"]
    assert final["html"].startswith("<")
    assert final["seq"] == max(f["seq"] for f in frames if f["type"] == "chunk")


async def test_a_second_question_continues_the_same_conversation(alice, socket_for):
    socket = await socket_for(alice)
    await socket.send_json_to({"type": "send", "conversation_id": None, "text": "My name is Alice."})
    frames = await receive_until(socket, finished())
    conversation_id = next(f for f in frames if f["type"] == "created")["conversation"]["id"]

    await socket.send_json_to({"type": "send", "conversation_id": conversation_id, "text": "What is my name?"})
    await receive_until(socket, finished())

    roles = [m.role async for m in Message.objects.filter(conversation_id=conversation_id)]
    assert roles == ["user", "assistant", "user", "assistant"]
