"""Websockets while the database or Redis is unreachable: a close the page retries, never an HTTP 500."""

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from django.db import InterfaceError, OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

# The server or the network is gone (restarting, partitioned); other errors are bugs.
UNAVAILABLE = (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError)
# "Try again later", HTTP's 503 in the application range (daphne sends only
# 1000 and 3000-4999); chat.js reconnects with its usual backoff.
CLOSE_TRY_AGAIN = 4503


class CloseWhenUnavailable:
    """ASGI middleware for websockets: a session lookup at the handshake, the
    channel layer's subscribe or any request failing because a service is down
    ends the socket with CLOSE_TRY_AGAIN instead of daphne's HTTP 500 / 1011."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(
        self,
        scope: dict[str, Any],
        receive: Callable[[], Awaitable[dict[str, Any]]],
        send: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        accepted = False

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal accepted
            if message["type"] == "websocket.accept":
                accepted = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except UNAVAILABLE as error:
            logger.warning("Websocket closed, a service is unavailable: %r", error)
            if not accepted:
                await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN})
