"""Deactivating a user ends every session they had, whichever way they signed in."""

import pytest
from django.contrib.sessions.models import Session
from django.http import HttpRequest
from django.test import Client

from tests.support.accounts import PASSWORD

pytestmark = pytest.mark.django_db


def signed_in_with_password(user):
    # django-axes, first of the backends, needs the request it counts failures for.
    client = Client()
    assert client.login(request=HttpRequest(), username=user.username, password=PASSWORD)
    return client


def test_deactivating_a_user_ends_all_their_sessions_and_no_one_elses(alice, bob):
    laptop, phone, bobs = signed_in_with_password(alice), signed_in_with_password(alice), signed_in_with_password(bob)
    assert Session.objects.count() == 3

    alice.is_active = False
    alice.save()

    assert Session.objects.count() == 1
    assert laptop.get("/").status_code == 302
    assert phone.get("/").status_code == 302
    assert bobs.get("/").status_code == 200


def test_the_admin_action_deactivates_the_selected_users_and_ends_their_sessions(alice, bob, admin):
    alices = signed_in_with_password(alice)
    root = signed_in_with_password(admin)

    response = root.post(
        "/admin/auth/user/", {"action": "deactivate", "_selected_action": [alice.pk, admin.pk]}, follow=True
    )

    assert "Deactivated 1 user(s)" in response.content.decode()
    alice.refresh_from_db()
    admin.refresh_from_db()
    assert not alice.is_active and admin.is_active
    assert alices.get("/").status_code == 302
    assert root.get("/").status_code == 200


def test_signing_out_forgets_the_session(alice):
    client = signed_in_with_password(alice)
    assert alice.signed_in_sessions.count() == 1

    client.post("/accounts/logout/")

    assert alice.signed_in_sessions.count() == 0
    assert not Session.objects.exists()


def test_with_local_accounts_off_a_password_signs_in_only_a_superuser(settings, alice, admin):
    settings.LOCAL_LOGIN = False

    assert not Client().login(request=HttpRequest(), username="alice", password=PASSWORD)
    assert Client().login(request=HttpRequest(), username="root", password=PASSWORD)


def test_with_local_accounts_off_a_signed_in_local_user_is_signed_out(settings, alice):
    client = signed_in_with_password(alice)
    settings.LOCAL_LOGIN = False

    assert client.get("/").status_code == 302
