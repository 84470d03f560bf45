"""Documents: the team's handbooks, runbooks and policies as a source of knowledge.

A `Document` is one file an admin added (uploaded in the admin or imported by
`manage.py knowledge_import`): its title, where it came from (`source_path`), the
original file (kept so it can be processed again), the sha256 of its bytes
(`content_hash`, so an unchanged file is skipped), its `format`, a processing
`status` (queued → processing → ready, or failed with an `error` a person
understands, and `parts_done` of `parts_total` while it is read), whether it is
`published` (drafts are never cited), and the groups that may see it (none: everyone), with the same rule as
FAQ entries. Processing splits a document into `Passage`s by its structure: each
passage knows its document, its `position` in it, its `heading_path` (the headings
above it joined with " › "), its `page` (PDFs) and an `anchor` unique in the
document. The knowledge base retrieves passages next to curated entries through
`Passage.objects.visible_to(user)` (of published, ready documents the user may see),
cites one with `citation_label` ("Driver handbook › Rest periods (p. 12)"), links
to it with `get_absolute_url()` (the document page, scrolled to the passage), and
gives the API's source shape with `as_source()`. `Passage.objects.fingerprint()`
changes whenever the set of retrievable passages changes, so every process can
tell its index is stale.
"""

import re
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Self, TypedDict

from django.conf import settings
from django.db import models
from django.db.models.base import ModelBase
from django.urls import reverse
from django.utils import timezone

from chatapp.chat.audience import GroupLimitedQuerySet

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

# Between the headings of a passage's heading path.
HEADING_SEPARATOR = " › "
# Tables in a passage's text are Markdown tables: cells between unescaped pipes, a rule under the header.
TABLE_CELL = re.compile(r"(?<!\\)\|")
TABLE_RULE = re.compile(r"^\|(\s*:?-+:?\s*\|)+$")

# A piece of a passage as its page shows it: a paragraph, or a table's rows of cells.
Block = tuple[Literal["text"], str] | tuple[Literal["table"], list[list[str]]]


class PassageSource(TypedDict):
    """The API's shape of a passage as a source of an answer."""

    kind: Literal["passage"]
    id: int
    title: str
    document: str
    section: str
    page: int | None
    url: str


def original_path(instance: "Document", filename: str) -> str:
    # Spread over 256 folders by content; the storage adds a suffix if a name is taken.
    return f"documents/{(instance.content_hash or '00')[:2]}/{filename}"


class DocumentQuerySet(GroupLimitedQuerySet["Document"]):
    """`visible_to(user)`: the documents `user` may see, by their groups, as for FAQ entries and bots
    (`chatapp.chat.audience`). Drafts and documents not ready are filtered by callers (`published()`,
    `ready()`)."""

    def published(self) -> Self:
        return self.filter(published=True)

    def ready(self) -> Self:
        return self.filter(status=Document.Status.READY)

    def fingerprint(self) -> tuple[int, datetime | None, int | None]:
        """Changes whenever a document is added, re-processed, published, withdrawn or deleted."""
        figures = self.aggregate(count=models.Count("id"), latest=models.Max("updated_at"), ids=models.Sum("id"))
        return (figures["count"], figures["latest"], figures["ids"])


class Document(models.Model):
    """One file of the team's documentation and its processing state."""

    class Format(models.TextChoices):
        PDF = "pdf", "PDF"
        DOCX = "docx", "Word (DOCX)"
        HTML = "html", "HTML"
        MARKDOWN = "markdown", "Markdown"
        TEXT = "text", "Plain text"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    title = models.CharField(max_length=300, blank=True, help_text="Empty: from the file's metadata or first heading.")
    source_path = models.CharField(
        max_length=1000, blank=True, db_index=True, help_text="Where the file came from (imports match on it)."
    )
    original = models.FileField(upload_to=original_path, max_length=300)
    original_name = models.CharField(max_length=255, help_text="The file's name as uploaded, made safe.")
    size = models.PositiveBigIntegerField(default=0, help_text="Bytes of the original file.")
    content_hash = models.CharField(max_length=64, db_index=True, help_text="sha256 of the original file.")
    format = models.CharField(max_length=12, choices=Format.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True)
    published = models.BooleanField(default=True, db_index=True, help_text="Drafts are never used in answers.")
    error = models.TextField(blank=True, help_text="Why processing failed, in words a person understands.")
    parts_done = models.PositiveIntegerField(default=0)
    parts_total = models.PositiveIntegerField(default=0)
    groups = models.ManyToManyField(
        "auth.Group",
        blank=True,
        related_name="documents",
        help_text="Only members of these groups see the document, in answers too; none: everyone.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now, db_index=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = DocumentQuerySet.as_manager()

    class Meta:
        ordering = ["title", "id"]

    def __str__(self) -> str:
        return self.title or self.original_name

    def save(
        self,
        *,
        force_insert: bool | tuple[ModelBase, ...] = False,
        force_update: bool = False,
        using: str | None = None,
        update_fields: Iterable[str] | None = None,
    ) -> None:
        self.updated_at = timezone.now()
        if update_fields is not None:
            update_fields = {*update_fields, "updated_at"}
        super().save(force_insert=force_insert, force_update=force_update, using=using, update_fields=update_fields)

    def get_absolute_url(self) -> str:
        return reverse("documents:document", args=[self.pk])

    def get_original_url(self) -> str:
        return reverse("documents:original", args=[self.pk])

    @property
    def is_ready(self) -> bool:
        return self.status == self.Status.READY

    @property
    def progress(self) -> str:
        if self.status == self.Status.PROCESSING and self.parts_total:
            return f"{self.parts_done} of {self.parts_total}"
        return self.get_status_display()


class PassageQuerySet(models.QuerySet["Passage"]):
    def usable(self) -> Self:
        """Passages of published documents that are ready: all that answers may cite."""
        return self.filter(document__published=True, document__status=Document.Status.READY)

    def visible_to(self, user: "User | AnonymousUser") -> Self:
        """The passages answers to `user` may cite: of published, ready documents they may see."""
        return self.usable().filter(document__in=Document.objects.visible_to(user))

    def fingerprint(self) -> tuple[int, datetime | None, int | None]:
        """Changes whenever the passages answers may cite change (a document added,
        re-processed, published, withdrawn, re-scoped or deleted)."""
        return Document.objects.fingerprint()


class Passage(models.Model):
    """One piece of a document, cut by its structure: what an answer cites."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="passages")
    position = models.PositiveIntegerField(help_text="Order in the document, from 0.")
    heading_path = models.CharField(max_length=1000, blank=True, help_text='Headings above it, joined with " › ".')
    page = models.PositiveIntegerField(null=True, blank=True, help_text="Page of a PDF where the passage starts.")
    anchor = models.SlugField(max_length=120)
    text = models.TextField()

    objects = PassageQuerySet.as_manager()

    class Meta:
        ordering = ["document", "position"]
        constraints = [
            models.UniqueConstraint(fields=["document", "anchor"], name="documents_passage_unique_anchor"),
            models.UniqueConstraint(fields=["document", "position"], name="documents_passage_unique_position"),
        ]

    def __str__(self) -> str:
        return self.citation_label

    @property
    def headings(self) -> list[str]:
        return [part for part in self.heading_path.split(HEADING_SEPARATOR) if part]

    @property
    def section(self) -> str:
        """The passage's own heading path, without the document's title."""
        return self.heading_path

    @property
    def citation_label(self) -> str:
        """ "Driver handbook › Rest periods (p. 12)": document, section, page."""
        label = HEADING_SEPARATOR.join([str(self.document), *self.headings])
        if self.page is not None:
            label += f" (p. {self.page})"
        return label

    def get_absolute_url(self) -> str:
        return f"{self.document.get_absolute_url()}?passage={self.anchor}#{self.anchor}"

    def blocks(self) -> list[Block]:
        """("text", paragraph) and ("table", rows of cells), in order: how the page shows it."""
        found: list[Block] = []
        for part in self.text.split("\n\n"):
            lines = part.strip().split("\n")
            if len(lines) > 1 and all(line.startswith("|") and line.endswith("|") for line in lines):
                rows = [
                    [cell.strip().replace("\\|", "|") for cell in TABLE_CELL.split(line[1:-1])]
                    for line in lines
                    if not TABLE_RULE.match(line)
                ]
                found.append(("table", rows))
            elif part.strip():
                found.append(("text", part))
        return found

    def as_source(self, request_base: str = "") -> PassageSource:
        """The API's shape of this passage as a source of an answer."""
        return {
            "kind": "passage",
            "id": self.pk,
            "title": str(self.document),
            "document": self.document.original_name,
            "section": self.heading_path,
            "page": self.page,
            "url": request_base + self.get_absolute_url(),
        }
