import os
from collections.abc import Awaitable, Callable
from typing import Any

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

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if self.allowed(scope):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)

    @staticmethod
    def allowed(scope: dict[str, Any]) -> bool:
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


application = ProtocolTypeRouter(
    {
        "http": django_application,
        "websocket": CloseWhenUnavailable(StrictOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))),
    }
)
