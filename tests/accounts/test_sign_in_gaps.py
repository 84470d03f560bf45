"""Sign-in gaps: an unverified address at an allowed domain, and the client's address behind proxies."""

import pytest
from django.test import Client

from chatapp.accounts.actions import SignInRefused, check_email_domain
from chatapp.accounts.middleware import client_address
from chatapp.accounts.provider import ProviderClaims


def claims(**extra):
    return ProviderClaims("https://id.example.com", "sub-1", {"email": "ann@example.com", **extra})


@pytest.mark.parametrize("verified", [None, "false", "true", False, 1, "yes"])
def test_an_allowed_domain_address_is_refused_unless_the_provider_says_verified_exactly_true(verified, settings):
    settings.OIDC_ALLOWED_EMAIL_DOMAINS = ["example.com"]
    given = claims() if verified is None else claims(email_verified=verified)
    with pytest.raises(SignInRefused, match="verified addresses"):
        check_email_domain(given)


def test_an_allowed_domain_address_verified_true_signs_in(settings):
    settings.OIDC_ALLOWED_EMAIL_DOMAINS = ["example.com"]
    check_email_domain(claims(email_verified=True))


@pytest.mark.parametrize(
    ("forwarded", "trusted", "seen"),
    [
        # The proxy appends what it saw: whatever the client wrote before it is ignored.
        ("203.0.113.9", 1, "203.0.113.9"),
        ("127.0.0.1, 203.0.113.9", 1, "203.0.113.9"),
        ("1.2.3.4, 5.6.7.8, 203.0.113.9", 1, "203.0.113.9"),
        # Two proxies: the outer one's view.
        ("127.0.0.1, 203.0.113.9, 10.0.0.2", 2, "203.0.113.9"),
        # No proxies trusted: the header means nothing.
        ("127.0.0.1", 0, "10.0.0.1"),
        # Fewer entries than proxies: not through all of them.
        ("", 1, "10.0.0.1"),
    ],
)
def test_the_client_address_is_counted_from_the_right_of_the_trusted_proxies(forwarded, trusted, seen):
    meta = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": forwarded}
    assert client_address(meta, trusted) == seen


@pytest.mark.django_db
def test_a_rotating_forwarded_for_does_not_escape_the_sign_in_lockout(alice, settings):
    """As found: behind a proxy that appends, a new X-Forwarded-For each try defeated the lockout."""
    settings.TRUSTED_PROXY_COUNT = 1
    settings.AXES_FAILURE_LIMIT = 3
    statuses = []
    for attempt in range(5):
        client = Client(HTTP_X_FORWARDED_FOR=f"198.51.100.{attempt}, 203.0.113.9", REMOTE_ADDR="127.0.0.1")
        response = client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
        statuses.append(response.status_code)
    assert statuses[-1] == 429 and statuses.count(429) >= 2


@pytest.mark.django_db
def test_metrics_are_not_served_to_a_spoofed_loopback_behind_the_proxy(settings, client):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.METRICS_TOKEN = ""
    spoofed = client.get("/metrics", HTTP_X_FORWARDED_FOR="127.0.0.1, 203.0.113.9", REMOTE_ADDR="127.0.0.1")
    assert spoofed.status_code == 404
    local = client.get("/metrics", HTTP_X_FORWARDED_FOR="127.0.0.1", REMOTE_ADDR="127.0.0.1")
    assert local.status_code == 200


@pytest.mark.django_db
def test_an_account_linked_to_the_provider_cannot_sign_in_with_its_local_password(alice, bob, settings):
    """As found: a user disabled at the provider kept signing in with their local password."""
    from chatapp.accounts.models import Identity
    from tests.support.accounts import PASSWORD

    settings.LOCAL_LOGIN = True
    Identity.objects.create(user=alice, issuer="https://id.example.com", subject="alice-1")
    linked = Client().post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    local = Client().post("/accounts/login/", {"username": "bob", "password": PASSWORD})
    assert linked.status_code == 200 and "_auth_user_id" not in linked.client.session
    assert local.status_code == 302
