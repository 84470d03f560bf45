"""API requests carry a token (Authorization: Bearer …), never a session: no cookies, no CSRF."""

from channels.db import database_sync_to_async
from django.http import HttpRequest

from chatapp.api.errors import invalid_key, missing_key
from chatapp.api.models import ApiToken


def _token_for(secret: str) -> ApiToken | None:
    token = ApiToken.objects.authenticate(secret)
    if token is not None:
        token.used_now()
    return token


async def authenticate(request: HttpRequest) -> ApiToken:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise missing_key()
    token = await database_sync_to_async(_token_for)(secret)
    if token is None:
        raise invalid_key(secret)
    return token
