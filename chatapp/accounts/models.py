from datetime import datetime
from typing import TYPE_CHECKING, Self

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db import models
from django.db.models.functions import Coalesce
from django.utils import timezone

from chatapp.chat.models import TokenUse

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class Identity(models.Model):
    """The provider account a user signs in with: matched by issuer and subject, never by name."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="identity")
    issuer = models.CharField(max_length=300)
    subject = models.CharField(max_length=255)
    email = models.CharField(max_length=254, blank=True)
    # The provider's own group names, as last seen: which ones are mapped is a setting.
    provider_groups = models.JSONField(default=list, blank=True)
    signed_in_at = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    # Set when the provider refused the account (disabled, removed): the user
    # was deactivated here for that reason, and a later successful sign-in
    # through the provider reactivates them. An admin's deactivation sticks.
    refused_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "identities"
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="one_user_per_provider_subject")]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"


class SignedInSessionQuerySet(models.QuerySet["SignedInSession"]):
    def end_for(self, user: "User") -> int:
        """Delete every session the user signed in with; returns how many."""
        keys = list(self.filter(user=user).values_list("session_key", flat=True))
        Session.objects.filter(session_key__in=keys).delete()
        self.filter(user=user).delete()
        return len(keys)


class SignedInSession(models.Model):
    """Which session belongs to whom, so that a user's sessions can be ended
    without decoding every session in the table."""

    class Method(models.TextChoices):
        PROVIDER = "provider", "Identity provider"
        PASSWORD = "password", "Local password"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="signed_in_sessions")
    session_key = models.CharField(max_length=40, unique=True)
    method = models.CharField(max_length=12, choices=Method.choices)
    created_at = models.DateTimeField(default=timezone.now)

    objects = SignedInSessionQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.user} ({self.get_method_display()})"


class UsageQuerySet(models.QuerySet["Usage"]):
    def in_period(self, since: datetime) -> Self:
        asked = models.Q(conversations__messages__role="user")
        recent = asked & models.Q(conversations__messages__created_at__gte=since)
        # From the ledger: tokens of deleted conversations still count.
        tokens = (
            TokenUse.objects.filter(user=models.OuterRef("pk"), created_at__gte=since)
            .values("user")
            .annotate(total=models.Sum(models.F("prompt_tokens") + models.F("completion_tokens")))
            .values("total")
        )
        return self.annotate(
            last_active=models.Max("conversations__messages__created_at", filter=asked),
            conversations_in_period=models.Count("conversations", filter=recent, distinct=True),
            messages_in_period=models.Count("conversations__messages", filter=recent),
            tokens_in_period=Coalesce(models.Subquery(tokens), 0),
        )


class Usage(get_user_model()):  # type: ignore[misc]  # the configured user model, known at run time
    """Who used the bot when: the admin's report, one row per user."""

    objects = UsageQuerySet.as_manager()

    class Meta:
        proxy = True
        verbose_name = "bot usage"
        verbose_name_plural = "bot usage"
