from __future__ import annotations

from typing import TYPE_CHECKING

from django import forms
from django.contrib import admin
from django.contrib import messages as flash
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from chatapp.documents import actions
from chatapp.documents.actions import Added, Outcome
from chatapp.documents.models import Document

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    class StaffRequest(HttpRequest):
        user: User


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *, label: str, help_text: str = "") -> None:
        super().__init__(
            label=label,
            help_text=help_text,
            widget=MultipleFileInput(attrs={"accept": ".pdf,.docx,.html,.htm,.md,.markdown,.txt,.zip"}),
        )

    def clean(self, data: object, initial: object = None) -> list[UploadedFile]:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)]


class UploadForm(forms.Form):
    uploads = MultipleFileField(
        label="Files",
        help_text="PDF, Word (.docx), HTML, Markdown or text files, or a zip of them. "
        "A file with the name of an existing document replaces it; the same file again changes nothing.",
    )
    groups = forms.ModelMultipleChoiceField(
        queryset=Group.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Only members of these groups will see the documents, in answers too; none: everyone.",
    )
    published = forms.BooleanField(
        required=False, initial=True, help_text="Used in answers as soon as they are ready. Unticked: drafts."
    )


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ("__str__", "format", "status_with_progress", "error_shown", "published", "updated_at")
    list_filter = ("status", "format", "published", "groups")
    search_fields = ("title", "original_name", "source_path")
    fields = (
        "title",
        "published",
        "groups",
        "links",
        "original_name",
        "source_path",
        "format",
        "size",
        "content_hash",
        "status",
        "error",
        "parts_done",
        "parts_total",
        "added_by",
        "created_at",
        "updated_at",
    )
    readonly_fields = tuple(field for field in fields if field not in {"title", "published", "groups"})
    filter_horizontal = ("groups",)
    actions = ["process_again", "publish", "make_draft"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Document]:
        # Staff see in the admin only the documents they may see elsewhere.
        return Document.objects.visible_to(request.user)

    @admin.display(description="Status", ordering="status")
    def status_with_progress(self, document: Document) -> str:
        return document.progress

    @admin.display(description="Problem")
    def error_shown(self, document: Document) -> str:
        return document.error

    @admin.display(description="Open")
    def links(self, document: Document) -> str:
        # The passages are read on the document page: thousands of them would not fit a form.
        return format_html(
            '<a href="{}">Document page ({} passage{})</a> · <a href="{}">Original file</a>',
            document.get_absolute_url(),
            count := document.passages.count(),
            "" if count == 1 else "s",
            document.get_original_url(),
        )

    @admin.action(description="Process the selected documents again")
    def process_again(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        for document in queryset:
            actions.reprocess(document)
        self.message_user(request, f"{queryset.count()} documents queued for processing.", flash.SUCCESS)

    @admin.action(description="Publish the selected documents")
    def publish(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        for document in queryset:
            document.published = True
            document.save(update_fields=["published"])

    @admin.action(description="Make the selected documents drafts (not used in answers)")
    def make_draft(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        for document in queryset:
            document.published = False
            document.save(update_fields=["published"])

    def delete_model(self, request: HttpRequest, obj: Document) -> None:
        actions.delete_document(obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        for document in queryset:
            actions.delete_document(document)

    def get_urls(self) -> list[URLPattern]:
        return [
            path("upload/", self.admin_site.admin_view(self.upload_view), name="documents_document_upload"),
        ] + super().get_urls()

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, object] | None = None
    ) -> HttpResponse:
        # Documents come from files: adding one is uploading it.
        return redirect("admin:documents_document_upload")

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, object] | None = None) -> HttpResponse:
        busy = self.get_queryset(request).filter(status__in=[Document.Status.QUEUED, Document.Status.PROCESSING])
        return super().changelist_view(request, {**(extra_context or {}), "refresh": busy.exists()})

    def upload_view(self, request: StaffRequest) -> HttpResponseBase:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = UploadForm(request.POST or None, request.FILES or None)
        results: list[Added] = []
        if request.method == "POST" and form.is_valid():
            options = {
                "added_by": request.user,
                "groups": list(form.cleaned_data["groups"]),
                "published": form.cleaned_data["published"],
            }
            for upload in form.cleaned_data["uploads"]:
                data = upload.read()
                if (upload.name or "").lower().endswith(".zip"):
                    results.extend(actions.add_zip(data, upload.name or "upload.zip", **options))
                else:
                    results.append(actions.add_file(data, upload.name or "document", **options))
            refused = [result for result in results if result.outcome == Outcome.REFUSED]
            if not refused:
                counts = {outcome: sum(r.outcome == outcome for r in results) for outcome in Outcome}
                self.message_user(
                    request,
                    f"{counts[Outcome.ADDED]} added, {counts[Outcome.UPDATED]} updated, "
                    f"{counts[Outcome.UNCHANGED]} unchanged. Processing runs in the background.",
                    flash.SUCCESS,
                )
                return redirect(reverse("admin:documents_document_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Upload documents",
            "form": form,
            "results": results,
        }
        return TemplateResponse(request, "admin/documents/document/upload.html", context)
