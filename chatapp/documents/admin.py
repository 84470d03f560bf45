from django.contrib import admin

from chatapp.documents.models import Document, Passage


class PassageInline(admin.TabularInline):
    model = Passage
    fields = ("position", "heading_path", "page", "anchor", "text")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ("__str__", "format", "status", "progress", "published", "updated_at")
    list_filter = ("status", "format", "published", "groups")
    search_fields = ("title", "original_name", "source_path")
    filter_horizontal = ("groups",)
    readonly_fields = (
        "original_name",
        "source_path",
        "content_hash",
        "format",
        "size",
        "status",
        "error",
        "parts_done",
        "parts_total",
        "created_at",
        "updated_at",
        "added_by",
    )
    inlines = [PassageInline]
