from django.apps import AppConfig
from django.db.models.signals import m2m_changed


def touch_document(sender: type, instance: object, action: str, **kwargs: object) -> None:
    # A change of groups changes who may see the passages: the fingerprint must change too.
    if action in {"post_add", "post_remove", "post_clear"} and hasattr(instance, "updated_at"):
        from chatapp.documents.models import Document

        if isinstance(instance, Document):
            instance.save(update_fields=["updated_at"])


class DocumentsConfig(AppConfig):
    name = "chatapp.documents"
    label = "documents"
    verbose_name = "Documents"

    def ready(self) -> None:
        from chatapp.documents.models import Document

        m2m_changed.connect(touch_document, sender=Document.groups.through, dispatch_uid="documents-touch-on-groups")
