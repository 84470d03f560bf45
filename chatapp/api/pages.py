"""The API's pages for people: each user creates, copies and revokes their own tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from chatapp.api import actions
from chatapp.api.models import ApiToken

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    class SignedInRequest(HttpRequest):
        user: User


def _page(request: SignedInRequest, **extra: object) -> HttpResponse:
    return render(
        request,
        "api/tokens.html",
        {
            "tokens": ApiToken.objects.filter(user=request.user),
            "api_url": request.build_absolute_uri("/v1"),
            **extra,
        },
    )


@login_required
def tokens(request: SignedInRequest) -> HttpResponse:
    return _page(request)


@login_required
@require_POST
def create(request: SignedInRequest) -> HttpResponse:
    name = " ".join(request.POST.get("name", "").split())[:100]
    token, secret = actions.create_token(request.user, name)
    # Shown on this response only: the secret is not stored, a reload does not show it again.
    response = _page(request, created=token, secret=secret)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def revoke(request: SignedInRequest, token_id: int) -> HttpResponseRedirect:
    found = ApiToken.objects.filter(user=request.user, pk=token_id)
    if actions.revoke_tokens(found):
        flash.info(request, "Token revoked: requests with it are refused from now on.")
    return redirect("api-tokens:list")
