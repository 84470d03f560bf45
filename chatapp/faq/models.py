from collections.abc import Iterable
from datetime import datetime
from typing import Self

from django.conf import settings
from django.db import models
from django.db.models.base import ModelBase
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from chatapp.chat.audience import GroupLimitedQuerySet


def split_lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def split_tags(text: str | None) -> list[str]:
    return [tag.strip() for tag in (text or "").split(",") if tag.strip()]


class FAQEntryQuerySet(GroupLimitedQuerySet["FAQEntry"]):
    """`visible_to(user)`: the entries `user` may see, by their groups, as for bots and documents
    (`chatapp.chat.audience`)."""

    def published(self) -> Self:
        return self.filter(status=FAQEntry.Status.PUBLISHED)

    def fingerprint(self) -> tuple[int, datetime | None, int | None]:
        """Changes whenever an entry is added, edited, published, withdrawn or deleted.

        Every process compares it with the one its search index was built from,
        so no process answers from entries that changed elsewhere.
        """
        figures = self.aggregate(count=models.Count("id"), latest=models.Max("updated_at"), ids=models.Sum("id"))
        return (figures["count"], figures["latest"], figures["ids"])


class FAQEntry(models.Model):
    """One question of the team's knowledge base and the team's answer to it."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"

    key = models.SlugField(
        max_length=100,
        unique=True,
        blank=True,
        help_text="Stable identifier, used in links and by imports to update this entry. Empty: made from the question.",
    )
    question = models.CharField(max_length=300)
    answer = models.TextField(help_text="Markdown.")
    phrasings = models.TextField(blank=True, help_text="Other ways people ask this question, one per line.")
    tags = models.CharField(max_length=200, blank=True, help_text="Comma-separated.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT, db_index=True)
    groups = models.ManyToManyField(
        "auth.Group",
        blank=True,
        related_name="faq_entries",
        help_text="Only members of these groups see the entry, in answers too; none: everyone.",
    )
    # Set for entries promoted from a reviewed conversation.
    source_conversation = models.ForeignKey(
        "chat.Conversation", null=True, blank=True, on_delete=models.SET_NULL, related_name="faq_entries"
    )
    source_message = models.ForeignKey(
        "chat.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="faq_entries"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = FAQEntryQuerySet.as_manager()

    class Meta:
        ordering = ["question"]
        verbose_name = "FAQ entry"
        verbose_name_plural = "FAQ entries"
        # Editing a draft is not publishing it: a group may write drafts without this.
        permissions = [("publish_faqentry", "Can publish and withdraw FAQ entries")]

    def __str__(self) -> str:
        return self.question

    def save(
        self,
        *,
        force_insert: bool | tuple[ModelBase, ...] = False,
        force_update: bool = False,
        using: str | None = None,
        update_fields: Iterable[str] | None = None,
    ) -> None:
        if not self.key:
            self.key = self.unique_key_for(self.question)
        self.updated_at = timezone.now()
        if update_fields is not None:
            update_fields = {*update_fields, "updated_at"}
        super().save(force_insert=force_insert, force_update=force_update, using=using, update_fields=update_fields)

    def get_absolute_url(self) -> str:
        return reverse("faq:entry", args=[self.key])

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED

    @property
    def phrasing_list(self) -> list[str]:
        return split_lines(self.phrasings)

    @property
    def tag_list(self) -> list[str]:
        return split_tags(self.tags)

    @classmethod
    def unique_key_for(cls, question: str) -> str:
        base = slugify(question)[:90].strip("-") or "entry"
        key, number = base, 2
        while cls.objects.filter(key=key).exists():
            key, number = f"{base}-{number}", number + 1
        return key


class UnansweredQuestionQuerySet(models.QuerySet["UnansweredQuestion"]):
    def open(self) -> Self:
        return self.filter(entry__isnull=True, dismissed=False)


class UnansweredQuestion(models.Model):
    """A question the knowledge base did not answer: the reviewers' to-do list."""

    class Outcome(models.TextChoices):
        NOT_COVERED = "not_covered", "Not covered"
        # The closest entries were listed, without an answer.
        UNSURE = "unsure", "Unsure"

    question = models.TextField()
    outcome = models.CharField(max_length=12, choices=Outcome.choices, default=Outcome.NOT_COVERED, db_index=True)
    # The entries listed to the asker, closest first: {"id", "key", "question", "score"}.
    candidates = models.JSONField(default=list, blank=True)
    asked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    conversation = models.ForeignKey(
        "chat.Conversation", null=True, blank=True, on_delete=models.SET_NULL, related_name="unanswered_questions"
    )
    message = models.ForeignKey(
        "chat.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="unanswered_questions"
    )
    best_score = models.FloatField(null=True, blank=True, help_text="How well the closest entry matched (0 to 1).")
    # The entry written for this question, once there is one.
    entry = models.ForeignKey(
        FAQEntry, null=True, blank=True, on_delete=models.SET_NULL, related_name="answered_questions"
    )
    dismissed = models.BooleanField(default=False, help_text="Not worth an entry (off topic, spam).")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = UnansweredQuestionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.question[:80]


def question_key(text: str) -> str:
    """A question's words, folded: two people asking the same thing in different case or spacing count together."""
    from chatapp.faq.analysis import words

    return " ".join(words(text))[:300]


class ConfirmationQuerySet(models.QuerySet["Confirmation"]):
    def pending(self) -> Self:
        return self.filter(status=Confirmation.Status.PENDING)

    def same_pair(self, confirmation: "Confirmation") -> Self:
        """Confirmations of the same question (as worded, folded) for the same source."""
        return self.filter(question_key=confirmation.question_key, source_key=confirmation.source_key)

    def ranked(self) -> Self:
        """One row per (question, source) pending, most people first: the reviewers' list."""
        people = (
            Confirmation.objects.pending()
            .filter(question_key=models.OuterRef("question_key"), source_key=models.OuterRef("source_key"))
            .values("question_key")
            .annotate(count=models.Count("user", distinct=True))
            .values("count")
        )
        first = (
            Confirmation.objects.pending()
            .filter(question_key=models.OuterRef("question_key"), source_key=models.OuterRef("source_key"))
            .order_by("id")
            .values("id")[:1]
        )
        return (
            self.pending()
            .annotate(people=models.Subquery(people), first_id=models.Subquery(first))
            .filter(id=models.F("first_id"))
            .order_by("-people", "-created_at")
        )


class Confirmation(models.Model):
    """Someone said a source listed under a "not sure" answer answers their question.

    Nothing changes for anyone until a reviewer accepts it: then the question
    becomes a phrasing of the entry (or, for a passage, an entry of its own).
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for review"
        ACCEPTED = "accepted", "Accepted"
        DISMISSED = "dismissed", "Dismissed"

    question = models.TextField()
    question_key = models.CharField(max_length=300, db_index=True)
    # "entry:<id>" or "passage:<id>": what confirmations of the same source share.
    source_key = models.CharField(max_length=40, db_index=True)
    entry = models.ForeignKey(FAQEntry, null=True, blank=True, on_delete=models.CASCADE, related_name="confirmations")
    passage = models.ForeignKey(
        "documents.Passage", null=True, blank=True, on_delete=models.CASCADE, related_name="confirmations"
    )
    message = models.ForeignKey("chat.Message", on_delete=models.CASCADE, related_name="confirmations")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = ConfirmationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One answer, one confirmation per person: a second click moves it to another source.
            models.UniqueConstraint(fields=["message", "user"], name="faq_confirmation_one_per_answer_and_person"),
        ]

    def __str__(self) -> str:
        return self.question[:80]

    @property
    def source_label(self) -> str:
        if self.passage is not None:
            return self.passage.citation_label
        return self.entry.question if self.entry is not None else "—"
