"""Requests built to crash the socket get an error frame; the socket stays open."""

import pytest

from tests.support.websocket import receive_until

pytestmark = pytest.mark.django_db(transaction=True)


async def still_open(socket):
    await socket.send_json_to({"type": "ping"})
    assert (await socket.receive_json_from(timeout=10)) == {"type": "pong"}


async def test_100000_nested_brackets_get_an_error_frame(alice, socket_for, settings):
    socket = await socket_for(alice)
    await socket.send_to(text_data="[" * 100_000)
    [frame] = await receive_until(socket, lambda f: True, timeout=10)
    assert frame["type"] == "error"
    await still_open(socket)


async def test_a_request_deeper_than_the_parser_goes_gets_an_error_frame(alice, socket_for, settings):
    settings.WEBSOCKET_MAX_REQUEST_BYTES = 1_000_000
    socket = await socket_for(alice)
    await socket.send_to(text_data='{"type": "ping", "x": ' + "[" * 50_000 + "]" * 50_000 + "}")
    [frame] = await receive_until(socket, lambda f: True, timeout=10)
    assert frame == {"type": "error", "error": "That was not valid JSON."}
    await still_open(socket)


async def test_a_huge_request_is_refused_before_it_is_parsed(alice, socket_for):
    socket = await socket_for(alice)
    await socket.send_to(text_data='{"type": "send", "text": "' + "x" * 300_000 + '"}')
    [frame] = await receive_until(socket, lambda f: True, timeout=10)
    assert frame["type"] == "error" and "too large" in frame["error"]
    await still_open(socket)
