"""Odd inputs get a clear error and break nothing: odd websocket frames, NUL, lone surrogates, bidi controls."""

import json

import pytest

from chatapp.chat import actions
from chatapp.chat.errors import ChatError
from chatapp.chat.models import Conversation
from chatapp.markdown import render_markdown

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def nothing_queued(no_worker):
    """Answers stay queued: no worker takes them."""
    return no_worker


@pytest.mark.parametrize(
    "frame",
    [
        {"type": []},
        {"type": {"a": 1}},
        {"type": None},
        {"type": "send", "text": "hello\x00world", "conversation_id": None},
        {"type": "send", "text": "lone \ud800 surrogate", "conversation_id": None},
        {"type": "edit", "message_id": 1, "text": "\x00"},
    ],
    ids=["list type", "object type", "null type", "NUL", "lone surrogate", "NUL edit"],
)
async def test_every_odd_frame_gets_an_error_frame_and_the_socket_stays(frame, alice, socket_for):
    socket = await socket_for(alice)
    # Serialized by hand: a lone surrogate is valid JSON text ("\ud800") though not valid UTF-8.
    await socket.send_to(text_data=json.dumps(frame))
    reply = await socket.receive_json_from(timeout=10)
    assert reply["type"] == "error" and reply["error"]
    await socket.send_json_to({"type": "ping"})
    assert await socket.receive_json_from(timeout=10) == {"type": "pong"}


def test_nul_and_lone_surrogates_are_refused_with_words_and_nothing_is_saved(alice):
    for text in ("a\x00b", "x\udfff"):
        with pytest.raises(ChatError, match="NUL|surrogate"):
            actions.send_message(alice, text)
    assert not Conversation.objects.filter(owner=alice).exists()


def test_a_search_for_nul_is_a_page_not_a_500(alice_client):
    assert alice_client.get("/search/?q=%00").status_code == 200
    assert alice_client.get("/search/?q=%ED%A0%80").status_code == 200


def test_bidi_controls_are_removed_from_link_words():
    rendered = render_markdown("[see \u202egro.elpmaxe](https://evil.example/) now")
    assert "\u202e" not in rendered and "(evil.example)" in rendered


async def test_one_account_cannot_hold_more_sockets_than_its_cap(alice, bob, socket_for, settings):
    """As found: one account could hold 600 websockets."""
    settings.MAX_SOCKETS_PER_USER = 3
    sockets = [await socket_for(alice) for _ in range(3)]
    extra = await socket_for(alice)
    refusal = await extra.receive_json_from(timeout=10)
    assert refusal["code"] == "too_many_sockets" and "the limit is 3" in refusal["error"]
    assert (await extra.receive_output(timeout=10)) == {"type": "websocket.close", "code": 4429}
    # Someone else is not held back, and a closed tab frees its place.
    other = await socket_for(bob)
    await other.send_json_to({"type": "ping"})
    assert await other.receive_json_from(timeout=10) == {"type": "pong"}
    await sockets[0].disconnect()
    again = await socket_for(alice)
    await again.send_json_to({"type": "ping"})
    assert await again.receive_json_from(timeout=10) == {"type": "pong"}
