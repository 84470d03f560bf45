"""No user sees or touches another user's conversations: not found, never forbidden."""

import pytest
from asgiref.sync import sync_to_async

from chatapp.chat.models import Conversation, Message
from tests.support.websocket import receive_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def alices_conversation(alice):
    conversation = Conversation.objects.create(owner=alice, title="Alice's secret plans")
    Message.objects.append(conversation=conversation, role="user", content="my secret")
    Message.objects.append(conversation=conversation, role="assistant", content="noted", status="error", error="x")
    return conversation


def test_other_user_gets_404_on_the_conversation_page(client, bob, alices_conversation):
    client.force_login(bob)
    response = client.get(f"/c/{alices_conversation.pk}/")
    assert response.status_code == 404
    assert b"secret" not in response.content


def test_other_user_cannot_rename_or_delete(client, bob, alices_conversation):
    client.force_login(bob)
    assert client.post(f"/c/{alices_conversation.pk}/rename/", {"title": "mine"}).status_code == 404
    assert client.post(f"/c/{alices_conversation.pk}/delete/").status_code == 404
    alices_conversation.refresh_from_db()
    assert alices_conversation.title == "Alice's secret plans"


def test_sidebar_lists_only_own_conversations(client, bob, alices_conversation):
    client.force_login(bob)
    response = client.get("/")
    assert response.status_code == 200
    assert b"Alice&#x27;s secret plans" not in response.content and b"Alice's secret plans" not in response.content


def test_anonymous_visitor_is_sent_to_sign_in(client, alices_conversation):
    response = client.get(f"/c/{alices_conversation.pk}/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


@pytest.mark.parametrize(
    "request_for",
    [
        lambda c: {"type": "open", "conversation_id": c.pk},
        lambda c: {"type": "send", "conversation_id": c.pk, "text": "hi"},
        lambda c: {"type": "resume", "message_id": c.messages.get(role="assistant").pk, "after": 0},
        lambda c: {"type": "stop", "message_id": c.messages.get(role="assistant").pk},
        lambda c: {"type": "retry", "message_id": c.messages.get(role="assistant").pk},
    ],
    ids=["open", "send", "resume", "stop", "retry"],
)
async def test_other_user_gets_not_found_on_the_websocket(bob, alices_conversation, socket_for, request_for):
    socket = await socket_for(bob)
    await socket.send_json_to(await sync_to_async(request_for)(alices_conversation))
    [frame] = await receive_until(socket, lambda f: True, timeout=10)
    assert frame["type"] == "error" and frame["error"].startswith("No such")
    assert await Message.objects.filter(conversation=alices_conversation).acount() == 2
    reply = await Message.objects.aget(conversation=alices_conversation, role="assistant")
    assert reply.status == "error"
