"""The team's OpenID Connect provider, through authlib: discovery, PKCE, ID token checks.

Everything the provider says is read from its discovery document
(OIDC_ISSUER + /.well-known/openid-configuration), fetched on first use and
kept for the life of the process.
"""

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from authlib.integrations.base_client import OAuthError
from authlib.integrations.django_client import DjangoOAuth2App, OAuth
from django.conf import settings

if TYPE_CHECKING:
    from django.contrib.auth.models import User

__all__ = [
    "OAuthError",
    "ProviderClaims",
    "claims_from_refresh",
    "claims_from_token",
    "client",
    "enabled",
    "end_session_url",
    "refresh",
]


def enabled() -> bool:
    return bool(settings.OIDC_ISSUER and settings.OIDC_CLIENT_ID)


@lru_cache(maxsize=4)
def _client_for(issuer: str, client_id: str, client_secret: str, scopes: str, timeout: float) -> DjangoOAuth2App:
    registry = OAuth()
    return registry.register(
        name="provider",
        client_id=client_id,
        client_secret=client_secret,
        server_metadata_url=f"{issuer.rstrip('/')}/.well-known/openid-configuration",
        client_kwargs={"scope": scopes, "code_challenge_method": "S256", "timeout": timeout},
    )


def client() -> DjangoOAuth2App:
    return _client_for(
        settings.OIDC_ISSUER,
        settings.OIDC_CLIENT_ID,
        settings.OIDC_CLIENT_SECRET,
        " ".join(settings.OIDC_SCOPES),
        settings.OIDC_TIMEOUT,
    )


@dataclass
class ProviderClaims:
    issuer: str
    subject: str
    claims: dict

    @property
    def email(self) -> str:
        return (self.claims.get("email") or "").strip()

    @property
    def groups(self) -> list[str]:
        value = self.claims.get(settings.OIDC_GROUPS_CLAIM) or []
        if isinstance(value, str):
            value = [value]
        # Keycloak sends full paths ("/chat-reviewers") when asked to.
        return sorted({str(group).strip().lstrip("/") for group in value if str(group).strip()})


def claims_from_token(token: dict) -> ProviderClaims:
    """The signed-in person's claims: the verified ID token's, completed by the
    userinfo endpoint (many providers send groups or email only there)."""
    id_claims = dict(token.get("userinfo") or {})
    if not id_claims.get("sub"):
        raise OAuthError(description="The provider sent no ID token.")
    provider = client()
    merged = dict(id_claims)
    if provider.load_server_metadata().get("userinfo_endpoint") and token.get("access_token"):
        extra = dict(provider.userinfo(token=token))
        # OpenID Connect Core 5.3.2: userinfo from another subject must be ignored.
        if extra.get("sub") == id_claims["sub"]:
            merged.update({key: value for key, value in extra.items() if key not in ("iss", "aud")})
    return ProviderClaims(issuer=id_claims.get("iss") or settings.OIDC_ISSUER, subject=id_claims["sub"], claims=merged)


def refresh(refresh_token: str) -> dict:
    """A new token set for a signed-in user; OAuthError when the provider refuses."""
    return client().fetch_access_token(grant_type="refresh_token", refresh_token=refresh_token)


def claims_from_refresh(token: dict, user: "User") -> ProviderClaims | None:
    """The user's claims today, from the userinfo endpoint with the refreshed access token;
    None where the provider has no userinfo endpoint."""
    provider = client()
    identity = getattr(user, "identity", None)
    if identity is None or not provider.load_server_metadata().get("userinfo_endpoint"):
        return None
    claims = dict(provider.userinfo(token=token))
    if claims.get("sub") != identity.subject:
        raise OAuthError(error="invalid_grant", description="The provider answered for another account.")
    return ProviderClaims(issuer=identity.issuer, subject=identity.subject, claims=claims)


def end_session_url(id_token: str, post_logout_redirect_uri: str) -> str | None:
    """Where to send the browser to end the provider's session too, when it has an end-session endpoint."""
    provider = client()
    if not provider.load_server_metadata().get("end_session_endpoint"):
        return None
    return provider.create_logout_url(
        post_logout_redirect_uri=post_logout_redirect_uri,
        id_token_hint=id_token or None,
        client_id=settings.OIDC_CLIENT_ID,
    )["url"]
