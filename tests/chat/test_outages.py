"""Websockets while Redis is unreachable: a clean close the page retries, never an HTTP 500."""

import pytest
from channels.layers import channel_layers

from chatapp.settings import redis_host
from tests.support.processes import free_port
from tests.support.websocket import open_socket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def redis_unreachable(settings):
    layer = settings.CHANNEL_LAYERS["default"]
    nothing_there = redis_host(f"redis://127.0.0.1:{free_port()}/0")
    settings.CHANNEL_LAYERS = {"default": {**layer, "CONFIG": {**layer["CONFIG"], "hosts": [nothing_there]}}}
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


async def test_a_handshake_while_redis_is_unreachable_is_closed_with_try_again_later(alice, redis_unreachable):
    socket = await open_socket(alice)
    assert socket is not None  # accepted, so the page sees a close code rather than a failed handshake
    assert await socket.receive_output(timeout=10) == {"type": "websocket.close", "code": 4503, "reason": ""}
