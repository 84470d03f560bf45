"""Sockets that end with their session: checked on every request, closed on sign-out.

A websocket is authenticated once, when it opens; these keep it honest after
that. `current_user` is what Django's own `get_user` finds for the session
now (the session still stored, the account active, the password unchanged),
and a sign-out, a deactivation or a password change tells every socket of
that user, through the channel layer, to check again at once.
"""

from importlib import import_module
from types import SimpleNamespace
from typing import Literal, NotRequired, TypedDict

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.auth.signals import user_logged_out
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest

from chatapp.chat import live
from chatapp.chat.events import user_group

# The websocket close code for "signed out": the page asks the person to sign in again.
CLOSE_SIGNED_OUT = 4401


def current_user(session: SessionBase | None) -> AbstractBaseUser | AnonymousUser | None:
    """The active user the session still belongs to, or None."""
    key = getattr(session, "session_key", None)
    if not key:
        return None
    store = import_module(settings.SESSION_ENGINE).SessionStore(key)
    # get_user checks the stored session, the backend, is_active (through the
    # backend) and the password hash, with SECRET_KEY_FALLBACKS.
    user = auth.get_user(SimpleNamespace(session=store))  # type: ignore[arg-type]  # it reads only .session
    return user if user.is_authenticated and user.is_active else None


class SessionCheckEvent(TypedDict):
    type: Literal["session.check"]
    session_key: NotRequired[str]  # the session that ended


def tell_sockets(user_id: int, session_key: str | None = None) -> None:
    """Ask every socket of `user_id` to check its session; the one of `session_key` closes."""
    event: SessionCheckEvent = {"type": "session.check"}
    if session_key:
        event["session_key"] = session_key
    # Best effort: a socket that misses it still checks on its next request.
    live.notify(user_group(user_id), event)


@receiver(user_logged_out, dispatch_uid="chat-sockets-end-on-logout")
def _logged_out(sender: type, request: HttpRequest, user: User | None, **kwargs: object) -> None:
    # Sent before the session is flushed: the socket is told which one ends.
    if user is not None:
        tell_sockets(user.pk, getattr(request.session, "session_key", None))


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="chat-sockets-check-on-user-change")
def _user_saved(
    sender: type, instance: User, created: bool, update_fields: frozenset[str] | None = None, **kwargs: object
) -> None:
    # Deactivation and password changes land here (a sign-in only records its
    # time); after the commit, so that the sockets read the new state.
    if not created and set(update_fields or ()) != {"last_login"}:
        transaction.on_commit(lambda: tell_sockets(instance.pk))


@receiver(post_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="chat-sockets-end-on-user-delete")
def _user_deleted(sender: type, instance: User, **kwargs: object) -> None:
    transaction.on_commit(lambda: tell_sockets(instance.pk))
