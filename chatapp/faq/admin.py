from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, cast

from django import forms
from django.contrib import admin
from django.contrib import messages as flash
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from chatapp.faq import actions, formats
from chatapp.faq.grouping import QuestionGroup, group_similar
from chatapp.faq.models import Confirmation, FAQEntry, FAQEntryQuerySet, UnansweredQuestion, split_tags
from chatapp.faq.search import visible_entry_ids
from chatapp.readonly_admin import ReadOnlyAdmin

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.db.models.expressions import Combinable

    class StaffRequest(HttpRequest):
        """What the admin's own views and actions receive: a signed-in staff member's request."""

        user: User


# Ids of the entries the reviewer on this request may see (None: all); nothing outside a change view.
viewer_visible: ContextVar[frozenset[int] | set[int] | None] = ContextVar("viewer_visible", default=frozenset())

MAX_IMPORT_BYTES = 5 * 1024 * 1024


class TagFilter(admin.SimpleListFilter):
    title = "tag"
    parameter_name = "tag"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[FAQEntry]) -> list[tuple[str, str]]:
        tags = sorted({tag for value in FAQEntry.objects.values_list("tags", flat=True) for tag in split_tags(value)})
        return [(tag, tag) for tag in tags]

    def queryset(self, request: HttpRequest, queryset: QuerySet[FAQEntry]) -> QuerySet[FAQEntry]:
        tag = self.value()
        if not tag:
            return queryset
        # Tags are stored comma-separated: narrow in SQL, then keep exact matches only.
        keys = [entry.key for entry in queryset.filter(tags__icontains=tag) if tag in entry.tag_list]
        return queryset.filter(key__in=keys)


class ImportForm(forms.Form):
    file = forms.FileField(help_text="CSV, JSON or Markdown (.csv, .json, .md). Entries are matched by key.")
    # Set by clean_file: what the upload holds.
    file_format: str
    text: str

    def clean_file(self) -> UploadedFile:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError("The file is larger than 5 MB.")
        try:
            self.file_format = formats.format_of(upload.name)
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None
        try:
            self.text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError("The file is not UTF-8 text.") from None
        return upload


def export_action(
    file_format: str,
) -> Callable[[admin.ModelAdmin[FAQEntry], HttpRequest, QuerySet[FAQEntry]], HttpResponse]:
    def export(
        modeladmin: admin.ModelAdmin[FAQEntry], request: HttpRequest, queryset: QuerySet[FAQEntry]
    ) -> HttpResponse:
        response = HttpResponse(
            formats.write(queryset.order_by("key"), file_format),
            content_type=f"{formats.CONTENT_TYPES[file_format]}; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="faq.{file_format}"'
        return response

    export.__name__ = f"export_{file_format}"
    # The admin reads the action's label from the function.
    export.short_description = (  # type: ignore[attr-defined]
        f"Export selected entries as {file_format.upper() if file_format != 'md' else 'Markdown'}"
    )
    return export


@admin.register(FAQEntry)
class FAQEntryAdmin(admin.ModelAdmin):
    list_display = ("question", "key", "status", "tags", "updated_at", "updated_by")
    list_filter = ("status", TagFilter, "groups", "updated_at")
    search_fields = ("question", "key", "phrasings", "answer", "tags")
    readonly_fields = ("created_at", "updated_at", "updated_by", "source")
    fields = (
        "question",
        "key",
        "status",
        "answer",
        "phrasings",
        "tags",
        "groups",
        "source",
        "created_at",
        "updated_at",
        "updated_by",
    )
    filter_horizontal = ("groups",)
    actions = ["publish", "withdraw", export_action("csv"), export_action("json"), export_action("md")]
    change_list_template = "admin/faq/faqentry/change_list.html"
    list_per_page = 100

    def get_queryset(self, request: HttpRequest) -> QuerySet[FAQEntry]:
        # Reviewers work on the entries they may see; another group's are not found.
        return cast(FAQEntryQuerySet, super().get_queryset(request)).visible_to(request.user)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, str | list[str]]:
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("status", FAQEntry.Status.DRAFT)
        return initial

    @admin.display(description="From conversation")
    def source(self, entry: FAQEntry) -> str:
        if not entry.source_conversation_id:
            return "—"
        url = reverse("admin:chat_conversation_change", args=[entry.source_conversation_id])
        return format_html('<a href="{}">Conversation {}</a>', url, entry.source_conversation_id)

    def save_model(self, request: HttpRequest, entry: FAQEntry, form: forms.Form, change: bool) -> None:
        entry.updated_by = cast("User", request.user)  # the admin is for signed-in staff
        super().save_model(request, entry, form, change)

    def has_publish_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("faq.publish_faqentry")

    def get_readonly_fields(self, request: HttpRequest, obj: FAQEntry | None = None) -> tuple[str, ...]:
        # Without the publish permission an entry's status is not theirs to change: drafts stay drafts.
        readonly = tuple(super().get_readonly_fields(request, obj))
        return readonly if self.has_publish_permission(request) else (*readonly, "status")

    @admin.action(description="Publish selected entries", permissions=["publish"])
    def publish(self, request: StaffRequest, queryset: QuerySet[FAQEntry]) -> None:
        changed = actions.set_status(queryset, FAQEntry.Status.PUBLISHED, user=request.user)
        self.message_user(request, f"{changed} entries published.")

    @admin.action(description="Withdraw selected entries (back to draft)", permissions=["publish"])
    def withdraw(self, request: StaffRequest, queryset: QuerySet[FAQEntry]) -> None:
        changed = actions.set_status(queryset, FAQEntry.Status.DRAFT, user=request.user)
        self.message_user(request, f"{changed} entries withdrawn.")

    def get_urls(self) -> list[URLPattern]:
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="faq_faqentry_import"),
        ] + super().get_urls()

    def import_view(self, request: StaffRequest) -> HttpResponseBase:
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied
        form = ImportForm(request.POST or None, request.FILES or None)
        report = None
        if request.method == "POST" and form.is_valid():
            report = actions.import_text(form.text, form.file_format, user=request.user)
            level = flash.WARNING if report.errors else flash.SUCCESS
            self.message_user(request, f"{form.cleaned_data['file'].name}: {report}", level)
            if not report.errors:
                return redirect("admin:faq_faqentry_changelist")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Import FAQ entries",
            "form": form,
            "report": report,
        }
        return TemplateResponse(request, "admin/faq/faqentry/import.html", context)


@admin.register(UnansweredQuestion)
class UnansweredQuestionAdmin(admin.ModelAdmin):
    list_display = ("question", "outcome", "asked_by", "created_at", "best_score", "entry", "dismissed")
    list_filter = ("outcome", "dismissed", "created_at")
    search_fields = ("question",)
    readonly_fields = (
        "question",
        "outcome",
        "listed",
        "asked_by",
        "conversation",
        "message",
        "best_score",
        "created_at",
    )
    fields = (*readonly_fields, "entry", "dismissed")
    raw_id_fields = ("entry",)
    change_list_template = "admin/faq/unansweredquestion/change_list.html"
    # The grouped view is the list; "?list" shows the plain one (with search and filters).
    LIST_PARAMETER = "list"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, object] | None = None
    ) -> HttpResponse:
        # "Entries listed" shows only what this reviewer may see: rendered here, while it is known.
        token = viewer_visible.set(visible_entry_ids(request.user))
        try:
            response = super().change_view(request, object_id, form_url, extra_context)
            if hasattr(response, "render"):
                response.render()
            return response
        finally:
            viewer_visible.reset(token)

    @admin.display(description="Entries listed")
    def listed(self, question: UnansweredQuestion) -> str:
        visible = viewer_visible.get()
        items = [item for item in question.candidates or [] if isinstance(item, dict) and item.get("key")]
        items = [item for item in items if visible is None or item.get("id") in visible]
        if not items:
            return "—"
        return format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            ((item.get("url") or reverse("faq:entry", args=[item["key"]]), item["question"]) for item in items),
        )

    def get_urls(self) -> list[URLPattern]:
        return [
            path("act/", self.admin_site.admin_view(self.group_action), name="faq_unansweredquestion_act"),
        ] + super().get_urls()

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, object] | None = None) -> HttpResponse:
        if self.LIST_PARAMETER in request.GET:
            request.GET = request.GET.copy()  # type: ignore[assignment]  # a mutable copy, on purpose
            del request.GET[self.LIST_PARAMETER]  # type: ignore[misc]
            return super().changelist_view(request, {**(extra_context or {}), "plain_list": True})
        if not self.has_view_permission(request):
            raise PermissionDenied
        open_questions = UnansweredQuestion.objects.open().select_related("asked_by").order_by("created_at", "id")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Unanswered questions",
            "groups": self._visible_groups(request, open_questions),
            "can_act": self.has_change_permission(request) and request.user.has_perm("faq.add_faqentry"),
            "can_add_phrasing": request.user.has_perm("faq.change_faqentry"),
        }
        return TemplateResponse(request, "admin/faq/unansweredquestion/grouped.html", context)

    def _visible_groups(self, request: HttpRequest, questions: QuerySet[UnansweredQuestion]) -> list[QuestionGroup]:
        groups = group_similar(questions)
        visible = visible_entry_ids(request.user)
        for group in groups:
            group.visible = visible
        return groups

    def group_action(self, request: StaffRequest) -> HttpResponseBase:
        if request.method != "POST":
            return redirect("admin:faq_unansweredquestion_changelist")
        if not (self.has_change_permission(request) and request.user.has_perm("faq.add_faqentry")):
            raise PermissionDenied
        ids = [int(value) for value in request.POST.getlist("ids") if value.isdigit()]
        questions = list(UnansweredQuestion.objects.open().filter(pk__in=ids).order_by("created_at", "id"))
        if not questions:
            self.message_user(request, "Those questions were already handled.", flash.WARNING)
            return redirect("admin:faq_unansweredquestion_changelist")
        # Each listed entry is its own button, carrying the entry: one click adds the phrasings.
        if request.POST.get("entry"):
            if not request.user.has_perm("faq.change_faqentry"):
                raise PermissionDenied
            entry_id = request.POST.get("entry", "")
            entry = (
                FAQEntry.objects.visible_to(request.user).filter(pk=int(entry_id)).first()
                if entry_id.isdigit()
                else None
            )
            if entry is None:
                self.message_user(request, "That entry no longer exists.", flash.WARNING)
                return redirect("admin:faq_unansweredquestion_changelist")
            added = actions.add_phrasing(questions, entry, user=request.user)
            self.message_user(request, f"{len(added)} phrasing(s) added to “{entry}”: it answers them from now on.")
            return redirect("admin:faq_unansweredquestion_changelist")
        if request.POST.get("action") == "dismiss":
            actions.dismiss_questions(questions)
            self.message_user(request, f"{len(questions)} questions dismissed.")
            return redirect("admin:faq_unansweredquestion_changelist")
        entry = actions.draft_from_unanswered(questions, user=request.user)
        self.message_user(request, "Draft created from the questions: write the answer, then publish it.")
        return redirect("admin:faq_faqentry_change", entry.pk)


@admin.register(Confirmation)
class ConfirmationAdmin(ReadOnlyAdmin):
    """ "This answers it" clicks waiting for review, one row per question and source, most people first.

    Accept makes the question a phrasing of the entry (or, for a passage, a new
    entry), so the next person asking it this way gets the answer; nothing a user
    clicks changes answers before that.
    """

    list_display = ("question", "source", "people", "created_at", "review")
    list_display_links = None
    search_fields = ("question",)
    actions = None
    deletable = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[Confirmation]:
        return Confirmation.objects.ranked().select_related("entry", "passage__document")

    def get_ordering(self, request: HttpRequest) -> list[str | Combinable]:
        return ["-people", "-created_at"]

    @admin.display(description="Answered by")
    def source(self, confirmation: Confirmation) -> str:
        url = (
            confirmation.passage.get_absolute_url()
            if confirmation.passage is not None
            else reverse("faq:entry", args=[confirmation.entry.key])  # type: ignore[union-attr]
        )
        kind = "Passage" if confirmation.passage is not None else "Entry"
        return format_html('{}: <a href="{}">{}</a>', kind, url, confirmation.source_label)

    @admin.display(description="People", ordering="people")
    def people(self, confirmation: Confirmation) -> int:
        return int(getattr(confirmation, "people", 1) or 1)

    @admin.display(description="Review")
    def review(self, confirmation: Confirmation) -> str:
        # Inside the change list's own form (which carries the CSRF token): each button posts to the review view.
        accept = "Accept as a phrasing" if confirmation.entry is not None else "Accept as a new entry"
        url = reverse("admin:faq_confirmation_review", args=[confirmation.pk])
        return format_html(
            '<button type="submit" formaction="{}" name="decision" value="accept">{}</button> '
            '<button type="submit" formaction="{}" name="decision" value="dismiss">Dismiss</button>',
            url,
            accept,
            url,
        )

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:pk>/review/",
                self.admin_site.admin_view(self.review_view),
                name="faq_confirmation_review",
            ),
        ] + super().get_urls()

    def review_view(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        if request.method != "POST":
            return redirect("admin:faq_confirmation_changelist")
        if not request.user.has_perm("faq.change_faqentry"):
            raise PermissionDenied
        confirmation = Confirmation.objects.pending().filter(pk=pk).select_related("entry", "passage").first()
        if confirmation is None:
            flash.warning(request, "That confirmation was already reviewed.")
        elif request.POST.get("decision") == "accept":
            entry = actions.accept_confirmation(confirmation, request.user)
            flash.success(request, f"“{confirmation.question[:80]}” now gets the answer of “{entry.question}”.")
        else:
            actions.dismiss_confirmation(confirmation)
            flash.info(request, "Dismissed.")
        return redirect("admin:faq_confirmation_changelist")
