import base64
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, cast

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


def stored_path(instance: "StoredImage", filename: str) -> str:
    # Spread files over 256 folders; the storage adds a suffix if a name is
    # taken, so two rows never share (and never delete) the same file.
    return f"images/{instance.sha256[:2]}/{filename}"


class StoredImage(models.Model):
    """One processed picture on disk, shared by every upload of the same bytes."""

    sha256 = models.CharField(max_length=64, unique=True, help_text="Of the bytes as uploaded.")
    file = models.FileField(upload_to=stored_path, max_length=200)
    thumbnail = models.FileField(upload_to=stored_path, max_length=200)
    format = models.CharField(max_length=8, help_text="Format of the stored copy: JPEG or PNG.")
    content_type = models.CharField(max_length=40)
    source_format = models.CharField(max_length=8, help_text="Format of the upload, as decoded.")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size = models.PositiveIntegerField(help_text="Bytes of the stored copy.")
    thumbnail_width = models.PositiveIntegerField()
    thumbnail_height = models.PositiveIntegerField()
    thumbnail_size = models.PositiveIntegerField()
    original_size = models.PositiveIntegerField(help_text="Bytes as uploaded.")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.format} {self.width}×{self.height} {self.sha256[:12]}"

    def read(self) -> bytes:
        with self.file.open("rb") as handle:
            return handle.read()

    def data_uri(self) -> str:
        return f"data:{self.content_type};base64,{base64.b64encode(self.read()).decode('ascii')}"

    def delete_files(self) -> None:
        for field in (self.file, self.thumbnail):
            if field.name:
                field.storage.delete(field.name)


class AttachmentManager(models.Manager["Attachment"]):
    def get_queryset(self) -> models.QuerySet["Attachment"]:
        # Every use of an attachment needs its stored image (URLs, sizes, bytes).
        return super().get_queryset().select_related("image")


class AttachmentQuerySet(models.QuerySet["Attachment"]):
    def unsent(self) -> "AttachmentQuerySet":
        return self.filter(message__isnull=True)


class Attachment(models.Model):
    """One upload by one user: attached to a message once that is sent."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="image_attachments")
    image = models.ForeignKey(StoredImage, on_delete=models.PROTECT, related_name="attachments")
    name = models.CharField(max_length=120, help_text="The uploaded file's name, made safe.")
    message = models.ForeignKey("chat.Message", null=True, blank=True, on_delete=models.CASCADE, related_name="images")
    # Answers whose prompt had to leave this image out to fit the model's context.
    left_out_of = models.ManyToManyField("chat.Message", blank=True, related_name="images_left_out")
    # Place in the message, as the user arranged them (uploads finish in any order).
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    objects = AttachmentManager.from_queryset(AttachmentQuerySet)()

    class Meta:
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["owner", "created_at"])]

    def __str__(self) -> str:
        return self.name

    @property
    def url(self) -> str:
        return reverse("images:file", args=[self.pk])

    @property
    def thumbnail_url(self) -> str:
        return reverse("images:thumbnail", args=[self.pk])

    @property
    def download_name(self) -> str:
        """The name with the extension of what is actually served."""
        stem = PurePosixPath(self.name).stem or "image"
        return f"{stem}.{cast(str, self.image.file.name).rsplit('.', 1)[-1]}"

    @property
    def size(self) -> int:
        return self.image.original_size

    def as_event(self) -> dict[str, object]:
        return {
            "id": self.pk,
            "url": self.url,
            "thumbnail_url": self.thumbnail_url,
            "width": self.image.width,
            "height": self.image.height,
            "thumbnail_width": self.image.thumbnail_width,
            "thumbnail_height": self.image.thumbnail_height,
            "format": self.image.format,
            "name": self.name,
        }


def can_view(user: "User | AnonymousUser", attachment: Attachment) -> bool:
    """The owner, and staff who may review conversations (for images sent in one)."""
    if not user.is_authenticated:
        return False
    if attachment.owner_id == user.pk:
        return True
    return bool(user.is_staff and attachment.message_id and user.has_perm("chat.view_conversation"))
