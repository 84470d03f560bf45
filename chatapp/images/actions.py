"""Every write to images: uploads, attaching them to a message, and removing files.

Files are content-addressed: the same bytes uploaded twice (by anyone) are
processed and stored once and shared by both attachments. A stored image
whose last attachment is deleted is removed, with its files, by
`delete_unreferenced_images`.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, prefetch_related_objects
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.text import get_valid_filename

from chatapp.chat.actions import check_image_count
from chatapp.chat.errors import ChatError
from chatapp.images import processing, slots
from chatapp.images.models import Attachment, StoredImage

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from chatapp.chat.models import Message

log = logging.getLogger(__name__)

# An image uploaded but never sent is discarded after this long.
UNSENT_LIFETIME = timedelta(days=1)
MAX_NAME_CHARS = 120
STORAGE_FULL = "The server has no room to store images right now, so this one was not kept. Try again later."


def safe_name(filename: object) -> str:
    """The last path component, reduced to characters safe anywhere; only ever displayed."""
    base = os.path.basename(str(filename or "").replace("\\", "/")).strip()
    try:
        name = get_valid_filename(base)
    except Exception:  # SuspiciousFileOperation for names like ".." or ""
        name = ""
    name = name.lstrip(".")
    if len(name) > MAX_NAME_CHARS:
        stem, dot, extension = name.rpartition(".")
        keep = MAX_NAME_CHARS - len(dot + extension)
        name = (stem[:keep] + dot + extension) if dot and keep > 0 else name[:MAX_NAME_CHARS]
    return name or "image"


def _save_processed(processed: processing.Processed) -> StoredImage:
    """Store a processed upload; returns the row (another upload's if it won a race)."""
    stored = StoredImage(
        sha256=processed.sha256,
        format=processed.format,
        content_type=processed.content_type,
        source_format=processed.source_format,
        width=processed.width,
        height=processed.height,
        size=len(processed.data),
        thumbnail_width=processed.thumbnail_width,
        thumbnail_height=processed.thumbnail_height,
        thumbnail_size=len(processed.thumbnail),
        original_size=processed.original_size,
    )
    try:
        stored.file.save(f"{processed.sha256}.{processed.extension}", ContentFile(processed.data), save=False)
        stored.thumbnail.save(
            f"{processed.sha256}.thumb.{processing.THUMBNAIL_FORMAT[2]}", ContentFile(processed.thumbnail), save=False
        )
    except OSError as error:
        # The media storage is full or failing: no partial file stays (see
        # chatapp.images.storage), and the one already written goes too.
        log.error("could not store an image: %s", error)
        stored.delete_files()
        raise processing.Rejected(STORAGE_FULL, status=507) from None
    try:
        with transaction.atomic():
            stored.save()
    except IntegrityError:
        # The same bytes were stored meanwhile by a parallel upload: use theirs.
        stored.delete_files()
        return StoredImage.objects.get(sha256=processed.sha256)
    return stored


def upload_image(user: User, data: bytes, filename: str | None) -> Attachment:
    """Validate, process and store an upload for `user`; raises processing.Rejected."""
    processing.check_size(len(data))
    sha256 = hashlib.sha256(data).hexdigest()
    discard_stale_uploads(owner=user)
    # Processed even when the same bytes are stored already: an upload takes
    # as long whether or not someone else sent that file before.
    with slots.slot(user.pk):
        processed = processing.process(data)
    for _attempt in range(2):
        if not StoredImage.objects.filter(sha256=sha256).exists():
            _save_processed(processed)
        with transaction.atomic():
            # Locked so that a concurrent clean-up cannot remove it under us.
            stored = StoredImage.objects.select_for_update().filter(sha256=sha256).first()
            if stored is not None:
                return Attachment.objects.create(owner=user, image=stored, name=safe_name(filename))
    raise processing.Rejected("The image could not be stored; try again.")


def _image_ids(value: object) -> list[int]:
    if not isinstance(value, list) or not all(isinstance(item, int) and not isinstance(item, bool) for item in value):
        raise ChatError("Images must be given as a list of image ids.")
    return list(dict.fromkeys(value))


class ImageAttacher:
    """Attaches the chosen uploads to the message that carries them (for send_message)."""

    def __init__(self, user: User, image_ids: list[int]) -> None:
        self.user = user
        self.image_ids = image_ids
        self.count = len(image_ids)

    def __call__(self, message: Message) -> None:
        # The condition makes a second send of the same images (another tab, a
        # double click) attach nothing and fail instead of moving them.
        attached = sum(
            Attachment.objects.unsent().filter(owner=self.user, pk=pk).update(message=message, position=position)
            for position, pk in enumerate(self.image_ids)
        )
        if attached != self.count:
            raise ChatError("An attached image was already sent with another message.")


def attacher_for(user: User, image_ids: object) -> ImageAttacher:
    """Check the images chosen for a message; returns the `attach` for send_message."""
    ids = _image_ids(image_ids)
    check_image_count(len(ids))
    attachments = list(Attachment.objects.unsent().filter(owner=user, pk__in=ids))
    if len(attachments) != len(ids):
        raise ChatError("An attached image is no longer available: remove it and attach it again.")
    total = sum(attachment.size for attachment in attachments)
    if total > settings.MAX_IMAGE_TOTAL_BYTES:
        raise ChatError(
            f"The images add up to {filesizeformat(total)}; one message can carry at most "
            f"{filesizeformat(settings.MAX_IMAGE_TOTAL_BYTES)}."
        )
    return ImageAttacher(user, ids)


def record_left_out(reply: Message, attachment_ids: list[int]) -> None:
    """Remember which images the prompt of `reply` had to leave out, for the UI."""
    reply.images_left_out.set(attachment_ids)
    # set() empties the prefetched list; the reply is serialised later where
    # no query may run (see chat.streaming._load).
    prefetch_related_objects([reply], "images_left_out")


def copy_attachments(source: Message, target: Message) -> None:
    """Give `target` (an edited question) its own copies of `source`'s attachment rows; the files are shared."""
    for attachment in source.images.all():
        attachment.pk = None
        attachment.message = target
        attachment.save()


def discard_stale_uploads(owner: User | None = None, older_than: timedelta = UNSENT_LIFETIME) -> int:
    """Delete images uploaded but never sent; their files go when unreferenced."""
    stale = Attachment.objects.unsent().filter(created_at__lt=timezone.now() - older_than)
    if owner is not None:
        stale = stale.filter(owner=owner)
    return stale.delete()[0]


def delete_unreferenced_images(image_ids: Iterable[int] | None = None) -> int:
    """Remove stored images (rows and files) that no attachment uses any more.

    Called after attachments are deleted (see signals); with no ids it sweeps
    everything, for retention clean-ups.
    """
    unreferenced = StoredImage.objects.filter(~Exists(Attachment.objects.filter(image=OuterRef("pk"))))
    if image_ids is not None:
        unreferenced = unreferenced.filter(pk__in=list(image_ids))
    removed: list[StoredImage] = []
    with transaction.atomic():
        # Lock, then look again: an upload of the same bytes may have attached
        # to one of them since the first look (it locks the row to do so).
        candidates = list(StoredImage.objects.select_for_update().filter(pk__in=unreferenced.values("pk")))
        if candidates:
            still = unreferenced.filter(pk__in=[stored.pk for stored in candidates])
            removed = list(still)
            StoredImage.objects.filter(pk__in=[stored.pk for stored in removed]).delete()
        transaction.on_commit(lambda: _delete_files(removed))
    return len(removed)


def _delete_files(stored_images: Iterable[StoredImage]) -> None:
    for stored in stored_images:
        try:
            stored.delete_files()
        except OSError:
            log.exception("could not delete the files of stored image %s", stored.pk)
