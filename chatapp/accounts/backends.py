from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AnonymousUser, User
from django.http import HttpRequest

from chatapp.accounts.models import Identity


class ProviderBackend(ModelBackend):
    """Keeps users signed in through the identity provider; it checks no password.

    The sign-in itself is the callback view's (the provider's verified ID
    token), which logs the user in with this backend."""

    def authenticate(self, request: HttpRequest | None, **credentials: object) -> None:  # type: ignore[override]
        return None


class LocalPasswordBackend(ModelBackend):
    """Django's username and password sign-in, limited to superusers when LOCAL_LOGIN is off
    (the break-glass account for when the provider is down).

    An account linked to the provider signs in only through it: its password
    would otherwise outlive its disabling at the provider, which is checked
    only for sessions the provider opened."""

    def user_can_authenticate(self, user: User | AnonymousUser | None) -> bool:
        if not super().user_can_authenticate(user) or user is None or user.pk is None:
            return False
        if Identity.objects.filter(user_id=user.pk).exists():
            return False
        return bool(settings.LOCAL_LOGIN or user.is_superuser)
