"""API tokens: made in the admin or on the command line, shown once, stored as a hash only."""

import hashlib
import io

import pytest
from django.core.management import CommandError, call_command

from chatapp.api.models import ApiToken


def secrets_in_database():
    return [value for row in ApiToken.objects.values_list() for value in row if isinstance(value, str)]


@pytest.mark.django_db
def test_create_api_token_prints_a_token_that_is_stored_only_as_its_hash(alice):
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_token", "alice", "--name", "CI bot", stdout=out, stderr=err)

    secret = out.getvalue().strip()
    assert secret.startswith("cht_") and len(secret) > 40
    assert "will not be shown again" in err.getvalue()
    token = ApiToken.objects.get()
    assert (token.user, token.name) == (alice, "CI bot")
    assert token.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert token.prefix == secret[:12]
    assert not any(secret in value for value in secrets_in_database())
    assert ApiToken.objects.authenticate(secret) == token
    assert ApiToken.objects.authenticate(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None


@pytest.mark.django_db
def test_create_api_token_refuses_an_unknown_user():
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        call_command("create_api_token", "nobody", stdout=io.StringIO())
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_a_token_made_in_the_admin_is_shown_once(client, admin, alice):
    client.force_login(admin)
    response = client.post("/admin/api/apitoken/add/", {"user": alice.pk, "name": "Spreadsheet"})

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    token = ApiToken.objects.get()
    page = response.content.decode()
    secret = page.split('<code id="api-token"', 1)[1].split(">", 1)[1].split("<", 1)[0]
    assert secret.startswith(token.prefix) and token.matches(secret)
    assert "will not be shown again" in page
    assert secret not in client.get(f"/admin/api/apitoken/{token.pk}/change/").content.decode()
    assert secret not in client.get("/admin/api/apitoken/").content.decode()


@pytest.mark.django_db
def test_a_revoked_or_inactive_users_token_no_longer_authenticates(client, admin, alice):
    token = ApiToken(user=alice, name="old")
    secret = token.new_secret()
    token.save()
    assert ApiToken.objects.authenticate(secret) == token

    client.force_login(admin)
    client.post("/admin/api/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    token.refresh_from_db()
    assert token.is_revoked
    assert ApiToken.objects.authenticate(secret) is None

    other = ApiToken(user=alice)
    other_secret = other.new_secret()
    other.save()
    alice.is_active = False
    alice.save()
    assert ApiToken.objects.authenticate(other_secret) is None
