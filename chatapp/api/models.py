import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING, Self

from django.conf import settings
from django.db import models
from django.utils import timezone

from chatapp.chat.extensions import GenerationOverrides

if TYPE_CHECKING:
    from chatapp.chat.models import Message

# How often a token's "last used" time is written: once per request would be
# a database write for every API call.
LAST_USED_PRECISION_SECONDS = 60


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def active(self) -> Self:
        return self.filter(revoked_at__isnull=True, user__is_active=True)

    def authenticate(self, secret: object) -> "ApiToken | None":
        """The active token whose secret this is, or None."""
        if not isinstance(secret, str) or not secret.startswith(ApiToken.SCHEME):
            return None
        # The prefix is not secret: it narrows the search to (almost always)
        # one row, whose hash is then compared in constant time.
        candidates = self.active().select_related("user").filter(prefix=secret[: ApiToken.PREFIX_CHARS])
        for token in candidates:
            if token.matches(secret):
                return token
        return None


class ApiToken(models.Model):
    """A user's key to the OpenAI-compatible API. Only a hash of the secret is kept."""

    SCHEME = "cht_"
    PREFIX_CHARS = 12

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(
        max_length=100, blank=True, help_text="What the token is for, e.g. the integration using it."
    )
    prefix = models.CharField(
        max_length=PREFIX_CHARS, db_index=True, editable=False, help_text="The start of the token, to recognise it."
    )
    # SHA-256 suffices: the secret is 256 random bits, not a password that a
    # slow hash would have to protect from guessing.
    secret_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = "API token"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name or 'API token'} ({self.prefix}…)"

    @staticmethod
    def hash(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    def new_secret(self) -> str:
        """Give the token a fresh secret; returns it (it cannot be recovered later)."""
        secret = self.SCHEME + secrets.token_urlsafe(32)
        self.prefix = secret[: self.PREFIX_CHARS]
        self.secret_hash = self.hash(secret)
        return secret

    def matches(self, secret: str) -> bool:
        return hmac.compare_digest(self.secret_hash, self.hash(secret))

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def used_now(self) -> bool:
        """Note a use, at most once a minute; returns whether it wrote."""
        now = timezone.now()
        if self.last_used_at and (now - self.last_used_at).total_seconds() < LAST_USED_PRECISION_SECONDS:
            return False
        self.last_used_at = now
        ApiToken.objects.filter(pk=self.pk).update(last_used_at=now)
        return True


class CompletionRequest(models.Model):
    """What an API client asked for along with one answer, and with which token."""

    reply = models.OneToOneField("chat.Message", on_delete=models.CASCADE, related_name="completion_request")
    token = models.ForeignKey(ApiToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="requests")
    max_tokens = models.PositiveIntegerField(null=True, blank=True, help_text="At most the bot's own limit.")
    temperature = models.FloatField(null=True, blank=True)
    stream = models.BooleanField(default=False)
    # The client's whole transcript up to this question (roles and texts, hashed):
    # its next request, re-sending it with the answer, continues this conversation.
    history_digest = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"API request for message {self.reply_id}"

    @classmethod
    def overrides_for(cls, reply: "Message") -> GenerationOverrides | None:
        """What the API client asked of `reply`'s generation (see chatapp.chat.extensions); None for the web."""
        asked = cls.objects.filter(reply=reply).first()
        if asked is None:
            return None
        return GenerationOverrides(max_tokens=asked.max_tokens, temperature=asked.temperature)
