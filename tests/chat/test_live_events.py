"""Events published straight to Redis (the worker's pipeline, `live.notify`) reach the sockets of a group.

The worker bypasses the channel layer's `group_send` to batch its chunks with
their log appends; this guards that the name it publishes on is the layer's.
"""

import pytest
from asgiref.sync import sync_to_async

from chatapp.chat import live
from chatapp.chat.events import chunk_event, conversation_group
from chatapp.chat.models import Conversation
from tests.support.websocket import receive_until

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_chunk_published_by_the_worker_reaches_the_open_conversation(alice, socket_for):
    conversation = await Conversation.objects.acreate(owner=alice)
    socket = await socket_for(alice)
    await socket.send_json_to({"type": "open", "conversation_id": conversation.pk})
    await receive_until(socket, lambda f: f["type"] == "opened")

    await sync_to_async(live.notify)(conversation_group(conversation.pk), chunk_event(7, 1, 1, "Hello"))

    frames = await receive_until(socket, lambda f: f["type"] == "chunk", timeout=10)
    assert frames[-1] == {"type": "chunk", "message_id": 7, "attempt": 1, "from": 0, "seq": 1, "delta": "Hello"}
