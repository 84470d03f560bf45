"""When the provider cannot be reached or the answer is forged: a clear message, nobody signed in or out by it."""

import pytest
from django.test import Client

from chatapp.accounts.middleware import CHECKED_AT, REFRESH_TOKEN
from tests.support.processes import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def unreachable_provider(settings):
    # A port nothing listens on: the connection is refused, as with a provider that is down.
    settings.OIDC_ISSUER = f"http://127.0.0.1:{free_port()}"
    settings.OIDC_CLIENT_ID = "chatapp"
    settings.OIDC_CLIENT_SECRET = "secret"
    settings.OIDC_PROVIDER_NAME = "Keycloak"
    settings.OIDC_TIMEOUT = 2


def test_without_an_issuer_there_is_no_provider_button_and_no_provider_route(client):
    page = client.get("/accounts/login/")
    assert b"Sign in with" not in page.content
    assert client.get("/accounts/oidc/login/").status_code == 404


def test_the_sign_in_page_offers_the_provider(client, unreachable_provider):
    assert b"Sign in with Keycloak" in client.get("/accounts/login/").content


def test_an_unreachable_provider_gets_a_clear_message(client, unreachable_provider):
    response = client.get("/accounts/oidc/login/")
    assert response.status_code == 503
    assert b"Keycloak does not answer. Try again in a moment." in response.content


def test_a_callback_without_the_state_this_browser_started_with_is_refused(
    client, unreachable_provider, django_user_model
):
    response = client.get("/accounts/oidc/callback/?code=stolen&state=forged")
    assert response.status_code == 400
    assert b"The sign-in did not complete." in response.content
    assert not django_user_model.objects.exists()


def test_a_user_stays_signed_in_while_the_provider_cannot_be_asked(alice, unreachable_provider, settings):
    settings.OIDC_RECHECK_SECONDS = 1
    client = Client()
    client.force_login(alice)
    session = client.session
    session[REFRESH_TOKEN] = "a-refresh-token"
    session[CHECKED_AT] = 0
    session.save()

    assert client.get("/").status_code == 200
    alice.refresh_from_db()
    assert alice.is_active
    assert client.session[CHECKED_AT] > 0
