import logging

import requests
from django.conf import settings
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from chatapp.accounts import actions, provider
from chatapp.accounts.middleware import ID_TOKEN, remember_tokens

log = logging.getLogger(__name__)

NEXT = "oidc_next"


def sign_in_context() -> dict:
    return {
        "provider_enabled": provider.enabled(),
        "provider_name": settings.OIDC_PROVIDER_NAME,
        "local_login": settings.LOCAL_LOGIN,
    }


class LoginView(auth_views.LoginView):
    """Django's sign-in page, with "Sign in with <provider>" and, when local
    accounts are off, the password form kept only for the break-glass admin."""

    def get_context_data(self, **kwargs: object) -> dict[str, object]:
        return {**super().get_context_data(**kwargs), **sign_in_context()}


def _safe_next(request: HttpRequest, url: str | None) -> str:
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return reverse(settings.LOGIN_REDIRECT_URL)


def _refused(request: HttpRequest, reason: str, status: int = 403) -> HttpResponse:
    form = AuthenticationForm(request)
    return render(
        request, "registration/login.html", {"form": form, "provider_error": reason, **sign_in_context()}, status=status
    )


@require_GET
def provider_login(request: HttpRequest) -> HttpResponse:
    if not provider.enabled():
        raise Http404("Single sign-on is not configured.")
    request.session[NEXT] = _safe_next(request, request.GET.get("next"))
    try:
        return provider.client().authorize_redirect(request, request.build_absolute_uri(reverse("accounts:callback")))
    except (requests.RequestException, ValueError) as error:
        log.warning("The identity provider's discovery document could not be read: %s", error)
        return _refused(request, f"{settings.OIDC_PROVIDER_NAME} does not answer. Try again in a moment.", status=503)


@require_GET
def callback(request: HttpRequest) -> HttpResponse:
    if not provider.enabled():
        raise Http404("Single sign-on is not configured.")
    try:
        token = provider.client().authorize_access_token(request)
        claims = provider.claims_from_token(token)
    except provider.OAuthError as error:
        log.info("Sign-in through the provider failed: %s", error)
        if error.error == "access_denied":
            return _refused(request, "The sign-in was cancelled.", status=400)
        return _refused(request, "The sign-in did not complete. Try again.", status=400)
    except (requests.RequestException, ValueError) as error:
        log.warning("The identity provider could not be reached: %s", error)
        return _refused(request, f"{settings.OIDC_PROVIDER_NAME} does not answer. Try again in a moment.", status=503)
    try:
        user = actions.sign_in_from_claims(claims)
    except actions.SignInRefused as refusal:
        return _refused(request, str(refusal))
    next_url = request.session.get(NEXT)
    auth_login(request, user, backend="chatapp.accounts.backends.ProviderBackend")
    remember_tokens(request.session, token)
    return redirect(_safe_next(request, next_url))


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    id_token = request.session.get(ID_TOKEN)
    auth_logout(request)
    if id_token and provider.enabled():
        try:
            url = provider.end_session_url(id_token, request.build_absolute_uri(reverse("accounts:signed_out")))
        except (requests.RequestException, ValueError) as error:
            log.warning("The provider's session could not be ended: %s", error)
            url = None
        if url:
            return redirect(url)
    return redirect("accounts:signed_out")


@require_GET
def signed_out(request: HttpRequest) -> HttpResponse:
    return render(request, "registration/logged_out.html", sign_in_context())
