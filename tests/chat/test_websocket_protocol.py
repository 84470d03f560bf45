import pytest

from tests.support.websocket import open_socket, receive_until

pytestmark = pytest.mark.django_db(transaction=True)


async def test_anonymous_socket_is_refused_before_accept():
    assert await open_socket(None) is None


async def test_foreign_origin_is_refused(alice):
    assert await open_socket(alice, origin=b"https://evil.example") is None


async def test_malformed_json_gets_an_error_frame_and_the_socket_stays_open(alice, socket_for):
    socket = await socket_for(alice)
    await socket.send_to(text_data="{not json")
    [frame] = await receive_until(socket, lambda f: True, timeout=10)
    assert frame == {"type": "error", "error": "That was not valid JSON."}
    await socket.send_json_to({"type": "ping"})
    assert (await socket.receive_json_from(timeout=10)) == {"type": "pong"}


async def test_unknown_request_type_gets_an_error_frame(alice, socket_for):
    socket = await socket_for(alice)
    await socket.send_json_to({"type": "format_disk"})
    frame = await socket.receive_json_from(timeout=10)
    assert frame["type"] == "error" and "format_disk" in frame["error"]
    await socket.send_json_to(["not", "an", "object"])
    assert (await socket.receive_json_from(timeout=10))["type"] == "error"


async def test_bad_ids_and_empty_text_get_clear_errors(alice, socket_for):
    socket = await socket_for(alice)
    await socket.send_json_to({"type": "send", "conversation_id": None, "text": "   "})
    assert (await socket.receive_json_from(timeout=10))["error"] == "Type a message first."
    await socket.send_json_to({"type": "stop", "message_id": "1; drop table"})
    assert "integer" in (await socket.receive_json_from(timeout=10))["error"]
    await socket.send_json_to({"type": "send", "conversation_id": None, "text": "x" * 20001})
    assert "too long" in (await socket.receive_json_from(timeout=10))["error"]
