import os
from collections.abc import Awaitable, Callable

from asgiref.typing import (
    ASGIReceiveCallable,
    ASGIReceiveEvent,
    ASGISendCallable,
    ASGISendEvent,
    HTTPScope,
    WebSocketScope,
)
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatapp.settings")
# Django must be set up before the consumers (and their models) are imported.
django_application = get_asgi_application()

from urllib.parse import urlsplit

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain

from chatapp.chat.routing import websocket_urlpatterns
from chatapp.ops.asgi import CloseWhenUnavailable

DEFAULT_PORTS = {"http": "80", "https": "443"}


def normalized_origin(scheme: str, netloc: str) -> str | None:
    """scheme://host:port, with the scheme's default port written out, or None."""
    host, port = split_domain_port(netloc.lower())
    if not host or scheme not in DEFAULT_PORTS:
        return None
    return f"{scheme}://{host}:{port or DEFAULT_PORTS[scheme]}"


class StrictOriginValidator:
    """Websockets only from this site's own pages: Origin's scheme, host and port must match.

    Django's CSRF origin check, for websockets: the Origin is the address the
    socket was opened at (scheme, Host header and port, the host in
    ALLOWED_HOSTS), or one listed in CSRF_TRUSTED_ORIGINS. Channels' own
    validator compares host names only.
    """

    def __init__(self, application: Callable[..., Awaitable[None]]) -> None:
        self.application = application

    async def __call__(self, scope: WebSocketScope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        if self.allowed(scope):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)

    @staticmethod
    def allowed(scope: WebSocketScope) -> bool:
        headers = {name: value.decode("latin1") for name, value in scope.get("headers", [])}
        origin = headers.get(b"origin", "")
        try:
            parts = urlsplit(origin)
        except ValueError:
            return False
        if not origin or parts.path or parts.query or parts.username:
            return False
        given = normalized_origin(parts.scheme, parts.netloc)
        if given is None:
            return False
        scheme = "https" if scope.get("scheme") == "wss" else "http"
        proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
        if proxy_header:
            name = proxy_header[0].removeprefix("HTTP_").lower().replace("_", "-").encode("latin1")
            if headers.get(name, "").split(",")[0].strip() == proxy_header[1]:
                scheme = "https"
        host = headers.get(b"host", "")
        domain, _port = split_domain_port(host.lower())
        allowed_hosts = settings.ALLOWED_HOSTS or (["localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else [])
        if domain and validate_host(domain, allowed_hosts) and given == normalized_origin(scheme, host):
            return True
        for trusted in settings.CSRF_TRUSTED_ORIGINS:
            trusted_parts = urlsplit(trusted)
            if trusted_parts.scheme != parts.scheme:
                continue
            if "*" in trusted_parts.netloc:
                pattern_host, pattern_port = split_domain_port(trusted_parts.netloc.replace("*", "", 1).lower())
                given_host, given_port = split_domain_port(parts.netloc.lower())
                if is_same_domain(given_host, pattern_host) and (given_port or DEFAULT_PORTS[parts.scheme]) == (
                    pattern_port or DEFAULT_PORTS[parts.scheme]
                ):
                    return True
            elif normalized_origin(trusted_parts.scheme, trusted_parts.netloc) == given:
                return True
        return False


def body_limit(path: str) -> int:
    """The largest request body `path` may be sent: the API's for /v1/, REQUEST_MAX_BYTES for the rest."""
    return settings.API_MAX_REQUEST_BYTES if path.startswith("/v1/") else settings.REQUEST_MAX_BYTES


class BodyLimit:
    """Refuse a request body over its limit with 413 before Django buffers it.

    A declared Content-Length over the limit is refused before one byte is
    read; a body sent without one (chunked) is cut off where it passes the
    limit. Django would otherwise spool any body to a temporary file first.
    """

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: HTTPScope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        limit = body_limit(scope.get("path", ""))
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    return await self.refuse(send, 400, "The Content-Length header is not a number.")
                if declared > limit:
                    return await self.refuse(send, 413, self.words(limit))
        received = 0
        over = False
        started = False

        async def counted_receive() -> ASGIReceiveEvent:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    return {"type": "http.disconnect"}  # Django stops reading, and answers nothing
            return message

        async def tracking_send(message: ASGISendEvent) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counted_receive, tracking_send)
        if over and not started:
            await self.refuse(send, 413, self.words(limit))

    @staticmethod
    def words(limit: int) -> str:
        return f"The request is too large: the limit is {limit:,} bytes."

    @staticmethod
    async def refuse(send: ASGISendCallable, status: int, reason: str) -> None:
        body = reason.encode()
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
        # The body is left unread: the connection closes after the answer.
        headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": headers, "trailers": False})
        await send({"type": "http.response.body", "body": body, "more_body": False})


application = ProtocolTypeRouter(
    {
        "http": BodyLimit(django_application),
        "websocket": CloseWhenUnavailable(StrictOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))),
    }
)
