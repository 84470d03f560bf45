"""Websockets while the database or Redis is unreachable: a close the page retries, never an HTTP 500."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from asgiref.typing import (
    ASGIReceiveCallable,
    ASGISendCallable,
    ASGISendEvent,
    Scope,
    WebSocketAcceptEvent,
    WebSocketCloseEvent,
)
from django.db import InterfaceError, OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

# The server or the network is gone (restarting, partitioned); other errors are bugs.
UNAVAILABLE = (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError)
# "Try again later", HTTP's 503 in the application range (daphne sends only
# 1000 and 3000-4999); chat.js reconnects with its usual backoff.
CLOSE_TRY_AGAIN = 4503
# daphne drops a handshake that takes 5 s (its websocket_handshake_timeout)
# without any HTTP response; a lookup still waiting for the database's pool
# (DATABASE_POOL_TIMEOUT, 10 s) after this long is answered "try again later".
HANDSHAKE_DEADLINE = 3.5
ACCEPT: WebSocketAcceptEvent = {"type": "websocket.accept", "subprotocol": None, "headers": []}
CLOSE: WebSocketCloseEvent = {"type": "websocket.close", "code": CLOSE_TRY_AGAIN, "reason": ""}


class CloseWhenUnavailable:
    """ASGI middleware for websockets: a session lookup at the handshake, the
    channel layer's subscribe or any request failing because a service is down
    ends the socket with CLOSE_TRY_AGAIN instead of daphne's HTTP 500 / 1011."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(
        self,
        scope: Scope,
        receive: ASGIReceiveCallable,
        send: ASGISendCallable,
    ) -> None:
        accepted = False

        answered = asyncio.Event()

        async def tracking_send(message: ASGISendEvent) -> None:
            nonlocal accepted
            if message["type"] == "websocket.accept":
                accepted = True
            answered.set()
            await send(message)

        app = asyncio.ensure_future(self.app(scope, receive, tracking_send))
        try:
            if scope["type"] == "websocket" and not await self._answered_in_time(app, answered):
                logger.warning("Websocket handshake not answered within %.1f s; closed", HANDSHAKE_DEADLINE)
                app.cancel()
                with contextlib.suppress(asyncio.CancelledError, *UNAVAILABLE):
                    await app
                await send(ACCEPT)
                await send(CLOSE)
                return
            await app
        except UNAVAILABLE as error:
            logger.warning("Websocket closed, a service is unavailable: %r", error)
            if not accepted:
                await send(ACCEPT)
            await send(CLOSE)
        finally:
            app.cancel()

    @staticmethod
    async def _answered_in_time(app: asyncio.Future[None], answered: asyncio.Event) -> bool:
        """Whether the app answered the handshake (or ended) within HANDSHAKE_DEADLINE."""
        waiter = asyncio.ensure_future(answered.wait())
        try:
            await asyncio.wait((app, waiter), timeout=HANDSHAKE_DEADLINE, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        return answered.is_set() or app.done()
