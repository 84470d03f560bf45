from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.http import HttpRequest

from chatapp.accounts import actions
from chatapp.accounts.models import SignedInSession

PROVIDER_BACKEND = "chatapp.accounts.backends.ProviderBackend"


@receiver(user_logged_in, dispatch_uid="accounts.record_session")
def record_session(sender: type, request: HttpRequest, user: User, **kwargs: object) -> None:
    method = (
        SignedInSession.Method.PROVIDER
        if getattr(user, "backend", "") == PROVIDER_BACKEND
        else SignedInSession.Method.PASSWORD
    )
    actions.record_session(user, request.session.session_key, method)


@receiver(user_logged_out, dispatch_uid="accounts.forget_session")
def forget_session(sender: type, request: HttpRequest | None, user: User | None, **kwargs: object) -> None:
    if request is not None and request.session.session_key:
        SignedInSession.objects.filter(session_key=request.session.session_key).delete()


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts.end_sessions_of_deactivated")
def end_sessions_of_deactivated(sender: type, instance: User, **kwargs: object) -> None:
    if not instance.is_active:
        actions.end_sessions(instance)
