from django.contrib import admin
from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html
from django.utils.safestring import SafeString

from chatapp.images.models import Attachment
from chatapp.readonly_admin import ReadOnlyAdmin

# Shown, and read-only: every field.
SHOWN = ("preview", "name", "owner", "message", "format", "dimensions", "stored_bytes", "created_at")


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyAdmin):
    """Read-only: uploads come from users, and files are served by the authorised view."""

    list_display = ["name", "owner", "message", "format", "dimensions", "stored_bytes", "created_at"]
    list_select_related = ["owner", "image"]
    search_fields = ["name", "owner__username", "image__sha256"]
    fields = SHOWN
    readonly_fields = SHOWN
    deletable = True

    @admin.display(description="Format")
    def format(self, obj: Attachment) -> str:
        return f"{obj.image.format} (uploaded as {obj.image.source_format})"

    @admin.display(description="Size in pixels")
    def dimensions(self, obj: Attachment) -> str:
        return f"{obj.image.width}×{obj.image.height}"

    @admin.display(description="Stored")
    def stored_bytes(self, obj: Attachment) -> str:
        return f"{filesizeformat(obj.image.size + obj.image.thumbnail_size)} (uploaded {filesizeformat(obj.image.original_size)})"

    @admin.display(description="Image")
    def preview(self, obj: Attachment) -> SafeString:
        return format_html('<a href="{}"><img src="{}" alt="{}"></a>', obj.url, obj.thumbnail_url, obj.name)
