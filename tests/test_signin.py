"""Guessing passwords: both sign-in forms lock a name on an address out after a few failures."""

import pytest
from django.core.management import call_command
from django.test import Client

from tests.support.accounts import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

FORMS = ["/accounts/login/", "/admin/login/"]


def attempt(client, url, user, password, address="10.0.0.1"):
    return client.post(url, {"username": user.username, "password": password}, REMOTE_ADDR=address)


@pytest.mark.parametrize("url", FORMS)
def test_forty_wrong_passwords_then_the_right_one_is_refused(url, admin):
    client = Client()
    statuses = [attempt(client, url, admin, f"guess {n}").status_code for n in range(40)]
    assert statuses[:4] == [200] * 4 and set(statuses[5:]) == {429}, statuses[:8]
    locked = attempt(client, url, admin, PASSWORD)
    assert locked.status_code == 429
    assert "Too many sign-in attempts" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_lockout_is_per_name_and_address(alice, bob):
    client = Client()
    for n in range(5):
        attempt(client, "/accounts/login/", alice, f"guess {n}")
    assert attempt(client, "/accounts/login/", alice, PASSWORD).status_code == 429
    # Another person on that address, and alice from elsewhere, can still sign in.
    assert attempt(Client(), "/accounts/login/", bob, PASSWORD).status_code == 302
    assert attempt(Client(), "/accounts/login/", alice, PASSWORD, address="10.0.0.2").status_code == 302


def test_an_administrator_lifts_a_lockout_with_axes_reset(alice):
    client = Client()
    for n in range(5):
        attempt(client, "/accounts/login/", alice, f"guess {n}")
    call_command("axes_reset")
    assert attempt(client, "/accounts/login/", alice, PASSWORD).status_code == 302


def test_password_reset_does_not_exist_without_mail(client):
    assert client.get("/accounts/password_reset/").status_code == 404
    assert client.post("/accounts/password_reset/", {"email": "a@example.com"}).status_code == 404


def test_a_weak_password_is_refused_when_changing_it(alice_client):
    response = alice_client.post(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": "password1", "new_password2": "password1"},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "too common" in page or "too short" in page


def test_with_mail_password_reset_is_throttled_per_address(transactional_db):
    import httpx

    from tests.support.processes import serve_app

    with serve_app(EMAIL_URL="consolemail://", PASSWORD_RESET_RATE="3/hour") as url, httpx.Client(base_url=url) as http:
        statuses = []
        for _ in range(5):
            http.get("/accounts/password_reset/")
            response = http.post(
                "/accounts/password_reset/",
                data={"email": "someone@example.com", "csrfmiddlewaretoken": http.cookies["csrftoken"]},
            )
            statuses.append(response.status_code)
    assert statuses == [302, 302, 302, 429, 429]
    assert int(response.headers["Retry-After"]) > 0
