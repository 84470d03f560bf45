"""Writes to accounts: a provider's claims becoming a user, and ending a user's sessions."""

import re
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from chatapp.accounts.models import Identity, SignedInSession
from chatapp.accounts.provider import ProviderClaims

if TYPE_CHECKING:
    # Aliased: the functions below name the configured model User.
    from django.contrib.auth import models as auth_models

# OIDC_GROUP_MAP targets that are flags on the user rather than Django groups.
STAFF = "staff"
SUPERUSER = "superuser"


class SignInRefused(Exception):
    """The provider vouched for the person, but this app does not let them in; the reason is fit to show."""


def group_map() -> list[tuple[str, str]]:
    """OIDC_GROUP_MAP as (provider group, target) pairs; a provider group may appear more than once."""
    pairs = []
    for item in settings.OIDC_GROUP_MAP:
        source, _, target = item.partition("=")
        if source.strip() and target.strip():
            pairs.append((source.strip().lstrip("/"), target.strip()))
    return pairs


def check_email_domain(claims: ProviderClaims) -> None:
    allowed = {domain.lower().lstrip("@") for domain in settings.OIDC_ALLOWED_EMAIL_DOMAINS}
    if not allowed:
        return
    domain = claims.email.rpartition("@")[2].lower()
    # An address the provider has not said it verified (false, "false", or no
    # claim at all) proves nothing about its domain: only a JSON true counts.
    if not claims.email or domain not in allowed or claims.claims.get("email_verified") is not True:
        names = ", ".join(sorted(allowed))
        raise SignInRefused(f"Sign-in is only open to verified addresses at {names}.")


def _unique_username(claims: ProviderClaims) -> str:
    User = get_user_model()
    wanted = claims.claims.get("preferred_username") or claims.email or claims.subject
    base = re.sub(r"[^\w.@+-]", "-", str(wanted))[:140].strip("-") or "user"
    username, number = base, 2
    while User.objects.filter(username__iexact=username).exists():
        username, number = f"{base}-{number}", number + 1
    return username


def _linkable_user(claims: ProviderClaims) -> "auth_models.User | None":
    """An existing local account with the same verified address and no provider identity yet."""
    if not claims.email or claims.claims.get("email_verified") is not True:
        return None
    User = get_user_model()
    matches = list(User.objects.filter(email__iexact=claims.email, identity__isnull=True, is_superuser=False)[:2])
    return matches[0] if len(matches) == 1 else None


def apply_groups(user: "auth_models.User", provider_groups: list[str]) -> None:
    """Make the user's mapped groups and flags exactly what the provider says today.

    Groups that no OIDC_GROUP_MAP entry targets are the admin's to give and
    are left alone."""
    pairs = group_map()
    targets = {target for _, target in pairs}
    wanted = {target for source, target in pairs if source in provider_groups}
    if SUPERUSER in targets:
        user.is_superuser = SUPERUSER in wanted
    if STAFF in targets or SUPERUSER in targets:
        user.is_staff = bool(wanted & {STAFF, SUPERUSER}) or (user.is_staff and STAFF not in targets)
    names = targets - {STAFF, SUPERUSER}
    managed = {group.name: group for group in Group.objects.filter(name__in=names)}
    for name in (wanted & names) - managed.keys():
        managed[name] = Group.objects.create(name=name)
    keep = [managed[name] for name in wanted & names]
    user.groups.remove(*[group for name, group in managed.items() if name not in wanted])
    user.groups.add(*keep)


@transaction.atomic
def sign_in_from_claims(claims: ProviderClaims) -> "auth_models.User":
    """The user these verified claims belong to, created or brought up to date.

    Raises SignInRefused for a denied email domain or a deactivated account."""
    check_email_domain(claims)
    User = get_user_model()
    identity = (
        Identity.objects.select_for_update()
        .select_related("user")
        .filter(issuer=claims.issuer, subject=claims.subject)
        .first()
    )
    now = timezone.now()
    user: auth_models.User | None
    if identity is not None:
        user = identity.user
        if not user.is_active:
            if identity.refused_at is None:
                raise SignInRefused("This account has been deactivated. Ask an administrator.")
            user.is_active = True
    else:
        user = _linkable_user(claims)
        if user is None:
            user = User(username=_unique_username(claims))
            user.set_unusable_password()
        elif not user.is_active:
            raise SignInRefused("This account has been deactivated. Ask an administrator.")
        else:
            # Linked: from now on it signs in through the provider only (see LocalPasswordBackend).
            user.set_unusable_password()
        identity = Identity(user=user, issuer=claims.issuer, subject=claims.subject)
    user.email = claims.email or user.email
    user.first_name = (claims.claims.get("given_name") or user.first_name)[:150]
    user.last_name = (claims.claims.get("family_name") or user.last_name)[:150]
    groups = claims.groups
    if user.pk is None:
        user.save()
    apply_groups(user, groups)
    # Through save(), so that everything listening for a change of the user hears it.
    user.save()
    identity.user = user
    identity.email = claims.email
    identity.provider_groups = groups
    identity.signed_in_at = identity.checked_at = now
    identity.refused_at = None
    identity.save()
    return user


def refresh_from_claims(user: "auth_models.User", claims: ProviderClaims) -> None:
    """A periodic check came back with fresh claims: follow the provider's groups."""
    with transaction.atomic():
        apply_groups(user, claims.groups)
        user.save()
        Identity.objects.filter(user=user).update(provider_groups=claims.groups, checked_at=timezone.now())


def refused_by_provider(user: "auth_models.User") -> None:
    """The provider no longer accepts this account: deactivate it here until it signs in again."""
    Identity.objects.filter(user=user).update(refused_at=timezone.now())
    user.is_active = False
    user.save()


def record_session(user: "auth_models.User", session_key: str | None, method: str) -> None:
    if session_key:
        SignedInSession.objects.update_or_create(session_key=session_key, defaults={"user": user, "method": method})


def end_sessions(user: "auth_models.User") -> int:
    return SignedInSession.objects.end_for(user)
