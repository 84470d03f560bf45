"""Each user creates, copies and revokes their own API tokens, without an administrator."""

import httpx
import pytest

from chatapp.api.models import ApiToken
from tests.support.accounts import sign_in
from tests.support.processes import serve_app

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def served(transactional_db, redis_service):
    with serve_app() as url:
        yield url


def test_a_user_creates_copies_uses_and_revokes_their_own_token(browser, served, alice, bob):
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    sign_in(page, served, alice)
    page.get_by_role("link", name="API tokens").click()
    page.get_by_role("textbox", name="What it is for").fill("my notebook")
    page.get_by_role("button", name="Create token").click()

    secret = page.locator("#api-token").inner_text()
    page.get_by_role("button", name="Copy").click()
    page.get_by_role("button", name="Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    assert "will not be shown again" in page.locator("main").inner_text()
    headers = {"Authorization": f"Bearer {secret}"}
    assert httpx.get(f"{served}/v1/models", headers=headers).status_code == 200

    page.goto(f"{served}/tokens/")
    assert secret not in page.content()  # shown once only
    page.get_by_role("button", name="Revoke my notebook").click()
    assert "Token revoked" in page.locator("main").inner_text()
    assert httpx.get(f"{served}/v1/models", headers=headers).status_code == 401
    assert ApiToken.objects.get().user == alice
    context.close()


def test_a_user_cannot_revoke_another_users_token(client, alice, bob):
    from chatapp.api.actions import create_token

    token, _secret = create_token(bob, "bob's")
    client.force_login(alice)
    client.post(f"/tokens/{token.pk}/revoke/")
    token.refresh_from_db()
    assert not token.is_revoked
    assert "bob's" not in client.get("/tokens/").content.decode()
