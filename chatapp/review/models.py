from typing import Protocol

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.expressions import Combinable
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.text import smart_split, unescape_string_literal

from chatapp.chat.models import Conversation, Message


class Feedback(models.Model):
    """A user's verdict on one answer; one per message and user, changeable."""

    class Vote(models.TextChoices):
        UP = "up", "Good answer"
        DOWN = "down", "Bad answer"

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="feedback")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="feedback")
    vote = models.CharField(max_length=4, choices=Vote.choices)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-updated_at", "-id"]
        verbose_name_plural = "feedback"
        constraints = [models.UniqueConstraint(fields=["message", "user"], name="one_feedback_per_message_and_user")]

    def __str__(self) -> str:
        return f"{self.get_vote_display()} on message {self.message_id}"


class ConversationReview(models.Model):
    """A reviewer's verdict on a conversation; a conversation without one is unreviewed."""

    class Status(models.TextChoices):
        UNREVIEWED = "unreviewed", "Unreviewed"
        APPROVED = "approved", "Approved"
        NEEDS_FIX = "needs_fix", "Needs fix"

    conversation = models.OneToOneField(Conversation, on_delete=models.CASCADE, related_name="review")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UNREVIEWED, db_index=True)
    notes = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        permissions = [
            ("export_conversations", "Can export conversations"),
            ("promote_to_faq", "Can promote an answer to a draft FAQ entry"),
        ]

    def __str__(self) -> str:
        return f"{self.get_status_display()}: {self.conversation_id}"


class Metrics(Conversation):
    """The metrics page's place in the admin index and in permissions; no table of its own."""

    class Meta:
        proxy = True
        verbose_name = verbose_name_plural = "metrics"
        default_permissions = ("view",)


class AuditEntry(models.Model):
    """Who did what to which object, and when: staff reading or exporting conversations."""

    class Action(models.TextChoices):
        VIEW = "view", "Viewed"
        EXPORT = "export", "Exported"
        REVIEW = "review", "Reviewed"
        PROMOTE = "promote", "Promoted to FAQ"
        PURGE = "purge", "Purged"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept as text too: the entry must still say who it was after the account is gone.
    username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=16, choices=Action.choices)
    content_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.SET_NULL)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["content_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.username or 'system'} {self.get_action_display().lower()} {self.object_repr}"


class ReviewFigures(Protocol):
    """A conversation as with_review_figures annotates it."""

    message_count: int
    error_count: int
    up_count: int
    down_count: int
    answer_model: str | None


def with_review_figures(conversations: QuerySet[Conversation]) -> QuerySet[Conversation]:
    """Annotate conversations with what the review list shows, one subquery per figure.

    Correlated subqueries rather than joins and GROUP BY: the database evaluates
    them only for the rows of the page, and figures from two relations never
    multiply each other.
    """
    messages = Message.objects.filter(conversation=OuterRef("pk")).order_by().values("conversation")
    feedback = Feedback.objects.filter(message__conversation=OuterRef("pk")).order_by().values("message__conversation")
    count = Count("pk")
    return conversations.annotate(
        message_count=Coalesce(Subquery(messages.annotate(n=count).values("n")), 0),
        error_count=Coalesce(Subquery(messages.filter(status=Message.Status.ERROR).annotate(n=count).values("n")), 0),
        up_count=Coalesce(Subquery(feedback.filter(vote=Feedback.Vote.UP).annotate(n=count).values("n")), 0),
        down_count=Coalesce(Subquery(feedback.filter(vote=Feedback.Vote.DOWN).annotate(n=count).values("n")), 0),
        answer_model=Subquery(
            Message.objects.filter(conversation=OuterRef("pk"), role=Message.Role.ASSISTANT)
            .exclude(model="")
            .order_by("-created_at", "-id")
            .values("model")[:1]
        ),
    )


def has_thumbs_down() -> Exists:
    return Exists(Feedback.objects.filter(message__conversation=OuterRef("pk"), vote=Feedback.Vote.DOWN))


def has_error() -> Exists:
    return Exists(Message.objects.filter(conversation=OuterRef("pk"), status=Message.Status.ERROR))


def answered_by(model: str) -> Exists:
    return Exists(Message.objects.filter(conversation=OuterRef("pk"), role=Message.Role.ASSISTANT, model=model))


def matching(search_term: str) -> Q | Combinable:
    """Conversations whose title, owner's user name or any message contains every word of `search_term`.

    Words are split as the admin's own search splits them ("quoted phrases" stay whole).
    """
    condition: Q | Combinable = Q()
    for word in smart_split(search_term):
        if word.startswith(('"', "'")) and word[0] == word[-1]:
            word = unescape_string_literal(word)
        condition &= (
            Q(title__icontains=word)
            | Q(owner__username__icontains=word)
            | Exists(Message.objects.filter(conversation=OuterRef("pk"), content__icontains=word))
        )
    return condition


def review_status_is(status: str) -> Q:
    if status == ConversationReview.Status.UNREVIEWED:
        return Q(review__isnull=True) | Q(review__status=status)
    return Q(review__status=status)


def review_of(conversation: Conversation) -> ConversationReview:
    """The conversation's review, or an unsaved unreviewed one (select_related caches a missing row as absent)."""
    review = getattr(conversation, "review", None)
    return review if review is not None else ConversationReview(conversation_id=conversation.pk)
