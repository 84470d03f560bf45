"""Signing in through a real OpenID Connect provider, in Chromium: groups, a denied domain, sign-out."""

import re
import time

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session

from chatapp.chat.models import Bot
from chatapp.faq.models import FAQEntry
from tests.support.accounts import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def provider_sign_in(page, app, username, password=None):
    page.goto(f"{app}/accounts/login/")
    page.get_by_role("link", name="Sign in with Test Provider").click()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password or f"{username}-password")
    page.get_by_role("button", name="Sign in").click()


def groups_of(username):
    return sorted(get_user_model().objects.get(username=username).groups.values_list("name", flat=True))


def test_a_new_user_signs_in_through_the_provider_and_lands_in_the_mapped_groups(page, sso_app, provider):
    provider_sign_in(page, sso_app, "carol")
    page.wait_for_url(f"{sso_app}/")

    carol = get_user_model().objects.get(username="carol")
    assert (carol.email, carol.first_name, carol.last_name) == ("carol@example.com", "Carol", "Reviewer")
    assert groups_of("carol") == ["Engineering", "Reviewer"]
    assert not carol.is_staff and not carol.has_usable_password()
    assert carol.identity.issuer == provider.issuer and carol.identity.subject == "carol"


def test_a_group_removed_in_the_provider_is_removed_on_the_next_sign_in(page, sso_app, provider):
    provider_sign_in(page, sso_app, "dave")
    page.wait_for_url(f"{sso_app}/")
    assert get_user_model().objects.get(username="dave").is_staff

    provider.change_user("dave", groups=["engineering"])
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Yes, sign me out").click()
    provider_sign_in(page, sso_app, "dave")
    page.wait_for_url(f"{sso_app}/")

    dave = get_user_model().objects.get(username="dave")
    assert not dave.is_staff
    assert groups_of("dave") == ["Engineering"]


def test_an_address_outside_the_allowed_domains_is_refused(page, sso_app, provider):
    provider_sign_in(page, sso_app, "erin")

    assert page.get_by_role("alert").inner_text() == "Sign-in is only open to verified addresses at example.com."
    assert not get_user_model().objects.filter(email="erin@elsewhere.test").exists()
    page.goto(f"{sso_app}/")
    assert "/accounts/login/" in page.url


def test_an_unverified_address_in_an_allowed_domain_is_refused(page, sso_app, provider):
    provider_sign_in(page, sso_app, "mallory")

    assert "verified addresses at example.com" in page.get_by_role("alert").inner_text()
    assert not get_user_model().objects.filter(username="mallory").exists()


def test_signing_out_ends_the_provider_session_too(page, sso_app, provider):
    provider_sign_in(page, sso_app, "carol")
    page.wait_for_url(f"{sso_app}/")

    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_url(re.compile(re.escape(f"{sso_app}/accounts/signed-out/")))
    assert page.get_by_role("heading", level=1).inner_text() == "Signed out"
    assert not Session.objects.exists()

    # The provider asks for the password again: its session is gone as well.
    page.goto(f"{sso_app}/accounts/login/")
    page.get_by_role("link", name="Sign in with Test Provider").click()
    assert page.get_by_label("Password").is_visible()


def test_a_user_disabled_in_the_provider_is_signed_out_at_the_next_check(page, sso_app, provider):
    provider_sign_in(page, sso_app, "carol")
    page.wait_for_url(f"{sso_app}/")

    provider.change_user("carol", disabled=True)
    time.sleep(1.1)  # OIDC_RECHECK_SECONDS
    page.goto(f"{sso_app}/")

    assert "/accounts/login/" in page.url
    assert "no longer accepts this account" in page.get_by_role("alert").inner_text()
    carol = get_user_model().objects.get(username="carol")
    assert not carol.is_active
    assert not Session.objects.exists()

    # The provider's own session is still open: no password asked this time.
    provider.change_user("carol", disabled=False)
    page.get_by_role("link", name="Sign in with Test Provider").click()
    page.wait_for_url(f"{sso_app}/")
    assert get_user_model().objects.get(username="carol").is_active


def test_a_user_deactivated_by_an_admin_cannot_sign_in_through_the_provider(page, sso_app, provider):
    provider_sign_in(page, sso_app, "carol")
    page.wait_for_url(f"{sso_app}/")
    carol = get_user_model().objects.get(username="carol")
    carol.is_active = False
    carol.save()

    page.goto(f"{sso_app}/")
    assert "/accounts/login/" in page.url
    page.get_by_role("link", name="Sign in with Test Provider").click()
    assert page.get_by_role("alert").inner_text() == "This account has been deactivated. Ask an administrator."


def test_with_local_accounts_off_only_the_break_glass_superuser_signs_in_with_a_password(
    page, sso_app, provider, alice, admin
):
    page.goto(f"{sso_app}/accounts/login/")
    page.get_by_text("Administrator sign-in").click()
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    assert "didn't match" in page.get_by_role("alert").inner_text()

    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{sso_app}/")


def test_a_user_signed_in_through_the_provider_sees_only_their_groups_bots_and_entries(page, sso_app, provider):
    engineering = Group.objects.create(name="Engineering")
    Bot.objects.get_or_create(slug="assistant", defaults={"name": "Assistant", "is_default": True})
    Bot.objects.create(name="On-call runbook", slug="runbook", position=5).groups.add(engineering)
    FAQEntry.objects.create(
        key="restart-db",
        question="How do I restart the database?",
        answer="Page the on-call.",
        status=FAQEntry.Status.PUBLISHED,
    ).groups.add(engineering)
    FAQEntry.objects.create(
        key="lunch", question="Where is lunch?", answer="Upstairs.", status=FAQEntry.Status.PUBLISHED
    )

    provider_sign_in(page, sso_app, "carol")
    page.wait_for_url(f"{sso_app}/")
    assert "On-call runbook" in page.get_by_label("Bot").locator("option").all_inner_texts()
    page.goto(f"{sso_app}/faq/")
    assert page.get_by_role("link", name="How do I restart the database?").is_visible()

    page.context.clear_cookies()
    provider_sign_in(page, sso_app, "dave")
    page.wait_for_url(f"{sso_app}/")
    bots = page.get_by_label("Bot").locator("option").all_inner_texts()
    assert "Assistant" in bots and "On-call runbook" not in bots
    page.goto(f"{sso_app}/faq/")
    assert page.get_by_role("link", name="Where is lunch?").is_visible()
    assert page.get_by_role("link", name="How do I restart the database?").count() == 0
    assert page.goto(f"{sso_app}/faq/restart-db/").status == 404


def test_the_admins_log_out_ends_the_provider_session_too(page, sso_app, provider):
    provider.change_user("dave", groups=["it-admins"])
    provider_sign_in(page, sso_app, "dave")
    page.wait_for_url(f"{sso_app}/")
    page.goto(f"{sso_app}/admin/")
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_url(re.compile(re.escape(f"{sso_app}/accounts/signed-out/")))
