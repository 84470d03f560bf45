import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, cast

import requests
from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.decorators import sync_and_async_middleware

from chatapp.accounts import actions, provider

if TYPE_CHECKING:
    from django.contrib.auth.models import User

log = logging.getLogger(__name__)

# Session keys of a sign-in through the provider.
ID_TOKEN = "oidc_id_token"
REFRESH_TOKEN = "oidc_refresh_token"
CHECKED_AT = "oidc_checked_at"


def remember_tokens(session: SessionBase, token: dict) -> None:
    if token.get("id_token"):
        session[ID_TOKEN] = token["id_token"]
    if token.get("refresh_token"):
        session[REFRESH_TOKEN] = token["refresh_token"]
    session[CHECKED_AT] = time.time()


class ProviderCheckMiddleware:
    """Every OIDC_RECHECK_SECONDS, asks the provider whether a signed-in user
    is still welcome (a refresh-token grant), and follows their groups.

    An account the provider refuses (disabled, deleted, its sessions revoked)
    is deactivated here, which ends all its sessions; one the provider cannot
    be asked about (unreachable) stays signed in until it answers again."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._due(request):
            response = self._check(request)
            if response is not None:
                return response
        return self.get_response(request)

    def _due(self, request: HttpRequest) -> bool:
        if settings.OIDC_RECHECK_SECONDS <= 0 or not provider.enabled():
            return False
        if not request.user.is_authenticated or REFRESH_TOKEN not in request.session:
            return False
        return time.time() - request.session.get(CHECKED_AT, 0) >= settings.OIDC_RECHECK_SECONDS

    def _check(self, request: HttpRequest) -> HttpResponse | None:
        user = cast("User", request.user)  # signed in: see _due
        try:
            token = provider.refresh(request.session[REFRESH_TOKEN])
            claims = provider.claims_from_refresh(token, user)
        except provider.OAuthError as error:
            log.info("The provider refused %s on a periodic check: %s", user.username, error)
            actions.refused_by_provider(user)
            logout(request)
            messages.error(request, "Your identity provider no longer accepts this account. Sign in again.")
            return redirect(settings.LOGIN_URL)
        except (requests.RequestException, ValueError) as error:
            log.warning("Could not check %s with the provider: %s", user.username, error)
            request.session[CHECKED_AT] = time.time()
            return None
        remember_tokens(request.session, token)
        if claims is not None:
            actions.refresh_from_claims(user, claims)
        return None


def client_address(meta: dict, trusted_proxies: int) -> str:
    """The client's address: REMOTE_ADDR, or with `trusted_proxies` proxies in front the address
    the outermost of them saw, counted from the right of X-Forwarded-For (what a client wrote
    to the left of it is its own say-so)."""
    if trusted_proxies <= 0:
        return str(meta.get("REMOTE_ADDR", ""))
    forwarded = [part.strip() for part in str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",") if part.strip()]
    if len(forwarded) < trusted_proxies:
        # Fewer entries than proxies: the request did not come through all of them.
        return str(meta.get("REMOTE_ADDR", ""))
    return forwarded[-trusted_proxies]


SyncHandler = Callable[[HttpRequest], HttpResponse]
AsyncHandler = Callable[[HttpRequest], Awaitable[HttpResponse]]


@sync_and_async_middleware
def ClientAddressMiddleware(get_response: SyncHandler | AsyncHandler) -> SyncHandler | AsyncHandler:  # noqa: N802  (named as a middleware class)
    """REMOTE_ADDR made the client's own address behind TRUSTED_PROXY_COUNT proxies.

    First in the stack: the sign-in lockout, the password-reset throttle and
    /metrics' same-host rule all read REMOTE_ADDR. Sync and async alike, so
    the async API views pay no thread hop for it.
    """
    if iscoroutinefunction(get_response):
        get_response_async = cast(AsyncHandler, get_response)

        async def address_async(request: HttpRequest) -> HttpResponse:
            request.META["REMOTE_ADDR"] = client_address(request.META, settings.TRUSTED_PROXY_COUNT)
            return await get_response_async(request)

        return address_async

    get_response_sync = cast(SyncHandler, get_response)

    def address(request: HttpRequest) -> HttpResponse:
        request.META["REMOTE_ADDR"] = client_address(request.META, settings.TRUSTED_PROXY_COUNT)
        return get_response_sync(request)

    return address
