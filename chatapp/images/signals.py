from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from chatapp.images.models import Attachment


@receiver(post_delete, sender=Attachment)
def remove_unreferenced_files(sender: type[Attachment], instance: Attachment, **kwargs: object) -> None:
    # However the attachment went (its conversation, its message, its owner
    # deleted, a retention purge), the files go once nothing refers to them.
    # After commit: a rolled-back delete must not lose files.
    from chatapp.images.actions import delete_unreferenced_images

    image_id = instance.image_id
    transaction.on_commit(lambda: delete_unreferenced_images([image_id]))
