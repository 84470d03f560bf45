import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

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
