"""How a provider's claims become a user, groups and flags (the verified claims as the callback hands them on)."""

import pytest
from django.contrib.auth.models import Group

from chatapp.accounts.actions import SignInRefused, sign_in_from_claims
from chatapp.accounts.provider import ProviderClaims

pytestmark = pytest.mark.django_db

ISSUER = "https://id.example.com/realms/team"


@pytest.fixture(autouse=True)
def group_map(settings):
    settings.OIDC_GROUP_MAP = [
        "chat-reviewers=Reviewer",
        "chat-reviewers=staff",
        "it-admins=superuser",
        "engineering=Engineering",
    ]
    settings.OIDC_ALLOWED_EMAIL_DOMAINS = []


def claims(subject="u-1", groups=(), **extra):
    return ProviderClaims(
        ISSUER,
        subject,
        {
            "sub": subject,
            "preferred_username": "carol",
            "email": "carol@example.com",
            "groups": groups if isinstance(groups, str) else list(groups),
            **extra,
        },
    )


def names(user):
    return sorted(user.groups.values_list("name", flat=True))


def test_one_provider_group_can_give_a_group_and_staff(settings):
    user = sign_in_from_claims(claims(groups=["chat-reviewers"]))
    assert names(user) == ["Reviewer"] and user.is_staff and not user.is_superuser


def test_superuser_implies_staff_and_is_taken_away_with_the_group():
    user = sign_in_from_claims(claims(groups=["it-admins"]))
    assert user.is_superuser and user.is_staff
    user = sign_in_from_claims(claims(groups=[]))
    assert not user.is_superuser and not user.is_staff


def test_groups_the_map_never_mentions_are_left_to_the_admin():
    user = sign_in_from_claims(claims(groups=["engineering"]))
    user.groups.add(Group.objects.create(name="Beta testers"))
    user = sign_in_from_claims(claims(groups=["finance"]))
    assert names(user) == ["Beta testers"]


def test_keycloak_group_paths_and_a_single_group_string_are_read():
    assert names(sign_in_from_claims(claims(groups=["/engineering"]))) == ["Engineering"]
    assert names(sign_in_from_claims(claims(groups="engineering"))) == ["Engineering"]


def test_the_same_subject_is_the_same_user_even_if_the_name_changes():
    first = sign_in_from_claims(claims())
    again = sign_in_from_claims(claims(preferred_username="carol.new", email="carol.new@example.com"))
    assert again.pk == first.pk and again.email == "carol.new@example.com"


def test_a_taken_username_gets_a_suffix_never_the_other_account(alice):
    user = sign_in_from_claims(claims(preferred_username="alice", email="someone@example.com"))
    assert user.pk != alice.pk and user.username == "alice-2"


def test_a_local_account_with_the_same_verified_address_is_linked(alice):
    alice.email = "carol@example.com"
    alice.save()
    assert sign_in_from_claims(claims(email_verified=True)).pk == alice.pk


def test_an_unverified_address_links_no_local_account(alice):
    alice.email = "carol@example.com"
    alice.save()
    assert sign_in_from_claims(claims(email_verified=False)).pk != alice.pk


def test_a_superuser_is_never_linked_by_address(admin):
    admin.email = "carol@example.com"
    admin.save()
    assert sign_in_from_claims(claims(email_verified=True)).pk != admin.pk


def test_allowed_domains_compare_the_address_domain_exactly(settings):
    settings.OIDC_ALLOWED_EMAIL_DOMAINS = ["example.com"]
    with pytest.raises(SignInRefused):
        sign_in_from_claims(claims(email="carol@example.com.evil.test"))
    with pytest.raises(SignInRefused):
        sign_in_from_claims(claims(email=""))
    assert sign_in_from_claims(claims(email="Carol@EXAMPLE.com", email_verified=True)).email == "Carol@EXAMPLE.com"
