"""Conversation review in the Django admin.

Roles come from permissions: the "Reviewer" group may view conversations,
messages, feedback and metrics, record verdicts, export and promote answers to
FAQ drafts, but never edit or delete; superusers may do everything.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib import messages as flash
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Model, Prefetch, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils import dateformat, timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_POST

from chatapp.chat.actions import delete_conversations
from chatapp.chat.models import Conversation, Message, Thread
from chatapp.markdown import render_markdown
from chatapp.readonly_admin import ReadOnlyAdmin
from chatapp.review import actions, exports, metrics
from chatapp.review.filters import (
    ErrorFilter,
    ModelFilter,
    ReviewStatusFilter,
    ThumbsDownFilter,
)
from chatapp.review.forms import PromoteForm, ReviewForm
from chatapp.review.models import (
    AuditEntry,
    Feedback,
    Metrics,
    ReviewFigures,
    matching,
    review_of,
    with_review_figures,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    class StaffRequest(HttpRequest):
        """What the admin's own views and actions receive: a signed-in staff member's request."""

        user: User


class LastActivityFilter(admin.DateFieldListFilter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.title = "last activity"


class OwnerFilter(admin.RelatedOnlyFieldListFilter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.title = "user"


def change_url(obj: Model) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


class TranscriptEntry:
    """One message as the review page shows it."""

    # Set by the transcript: (number, of how many) among its versions, and whether
    # it is on the branch the user settled on (None where nothing branched).
    version: tuple[int, int] | None
    on_branch: bool | None

    def __init__(self, message: Message, question: Message | None = None) -> None:
        self.message = message
        self.question = question
        self.html = mark_safe(render_markdown(message.content))  # sanitized by render_markdown
        self.images = [image.as_event() for image in message.images.all()]
        self.feedback = list(message.feedback.all())


class AuditedChangeView:
    """Opening an object's page leaves an audit entry: who read which user data, when."""

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, object] | None = None
    ) -> HttpResponse:
        response = super().change_view(request, object_id, form_url, extra_context)  # type: ignore[misc]  # mixed into ModelAdmin
        opened = (getattr(response, "context_data", None) or {}).get("original")
        if request.method == "GET" and opened is not None:
            actions.record_audit(request.user, AuditEntry.Action.VIEW, opened)
        return response


@admin.register(Conversation)
class ConversationAdmin(AuditedChangeView, admin.ModelAdmin):
    # What a reviewer scans for comes first: it stays in view on narrow screens.
    list_display = [
        "__str__",
        "review_status",
        "feedback_summary",
        "error_count",
        "message_count",
        "last_activity",
        "owner",
        "answer_model",
        "source",
    ]
    list_filter = [
        ("updated_at", LastActivityFilter),
        ("owner", OwnerFilter),
        ModelFilter,
        ThumbsDownFilter,
        ErrorFilter,
        ReviewStatusFilter,
        "source",
    ]
    # Shown as the search box's fields; the search itself is get_search_results.
    search_fields = ["title", "messages__content", "owner__username"]
    search_help_text = "Search titles, message text and user names."
    list_select_related = ["owner", "review"]
    ordering = ["-updated_at", "-id"]
    list_per_page = 50
    # The unfiltered total, and counts next to each filter choice, would be
    # more COUNTs over every conversation on each page.
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    actions = ["export_jsonl", "export_csv"]
    fields = ["title", "owner", "bot", "source", "created_at", "updated_at"]

    # A superuser's delete goes the owners' way: open pages are told, running answers stop.
    def delete_model(self, request: HttpRequest, obj: Conversation) -> None:
        delete_conversations(Conversation.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> None:
        delete_conversations(queryset)

    readonly_fields = ["owner", "created_at", "updated_at"]
    change_form_template = "review/conversation_change_form.html"

    class Media:
        css = {"all": ["review/admin.css"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Conversation]:
        return with_review_figures(super().get_queryset(request))

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Conversation], search_term: str
    ) -> tuple[QuerySet[Conversation], bool]:
        # The default joins messages and then needs DISTINCT over every row and
        # figure; EXISTS finds the same conversations without duplicates.
        return queryset.filter(matching(search_term)), False

    # --- list columns ---------------------------------------------------------

    @admin.display(description="Messages", ordering="message_count")
    def message_count(self, conversation: ReviewFigures) -> int:
        return conversation.message_count

    @admin.display(description="Last activity", ordering="updated_at")
    def last_activity(self, conversation: Conversation) -> SafeString:
        return format_html(
            '<time datetime="{}">{}</time>',
            conversation.updated_at.isoformat(),
            dateformat.format(timezone.localtime(conversation.updated_at), "Y-m-d H:i"),
        )

    @admin.display(description="Model", ordering="answer_model")
    def answer_model(self, conversation: ReviewFigures) -> str:
        return conversation.answer_model or "—"

    @admin.display(description="Feedback")
    def feedback_summary(self, conversation: ReviewFigures) -> str:
        if not conversation.up_count and not conversation.down_count:
            return "—"
        return format_html(
            '<span class="review-votes"><span class="vote-up" title="Good answers">▲ {}</span>'
            ' <span class="vote-down{}" title="Bad answers">▼ {}</span></span>',
            conversation.up_count,
            " has-votes" if conversation.down_count else "",
            conversation.down_count,
        )

    @admin.display(description="Errors", ordering="error_count")
    def error_count(self, conversation: ReviewFigures) -> str:
        if not conversation.error_count:
            return "0"
        return format_html('<span class="review-errors">{}</span>', conversation.error_count)

    @admin.display(description="Review", ordering="review__status")
    def review_status(self, conversation: Conversation) -> SafeString:
        review = review_of(conversation)
        return format_html(
            '<span class="review-status status-{}">{}</span>', review.status, review.get_status_display()
        )

    # --- exports --------------------------------------------------------------

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("review.export_conversations")

    @admin.action(description="Export selected conversations as JSONL", permissions=["export"])
    def export_jsonl(self, request: StaffRequest, queryset: QuerySet[Conversation]) -> StreamingHttpResponse:
        return exports.jsonl_response(request, actions.record_export(request.user, queryset, "jsonl"))

    @admin.action(description="Export messages of selected conversations as CSV", permissions=["export"])
    def export_csv(self, request: StaffRequest, queryset: QuerySet[Conversation]) -> StreamingHttpResponse:
        return exports.csv_response(request, actions.record_export(request.user, queryset, "csv"))

    # --- the conversation page --------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        # Before the catch-all "<path:object_id>/" of the default URLs.
        return [
            path("<path:object_id>/review/", wrap(self.review_view), name="{}_{}_review".format(*info)),
            path(
                "<path:object_id>/promote/<int:message_id>/",
                wrap(self.promote_view),
                name="{}_{}_promote".format(*info),
            ),
            *super().get_urls(),
        ]

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, object],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Conversation | None = None,
    ) -> HttpResponse:
        if obj is not None:
            context.update(self.transcript_context(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def transcript_context(self, request: HttpRequest, conversation: Conversation) -> dict[str, object]:
        messages: Iterable[Message] = conversation.messages.order_by("created_at", "id").prefetch_related(
            Prefetch("feedback", queryset=Feedback.objects.select_related("user").order_by("id")), "images"
        )
        messages = list(messages)
        # Regenerated answers and edited questions are kept: mark the branch the user settled on.
        thread = Thread(messages)
        leaf = thread.by_id.get(conversation.current_id) or thread.latest_leaf(None)
        chosen = thread.on_branch(leaf)
        branched = any(len(thread.versions(message)) > 1 for message in messages)
        entries: list[TranscriptEntry] = []
        for message in messages:
            question = thread.by_id.get(message.parent_id) if message.role == Message.Role.ASSISTANT else None
            entry = TranscriptEntry(message, question)
            versions = thread.versions(message)
            entry.version = (versions.index(message) + 1, len(versions)) if len(versions) > 1 else None
            entry.on_branch = message.pk in chosen if branched else None
            entries.append(entry)
        review, user = review_of(conversation), request.user
        return {
            "transcript": entries,
            "review": review,
            "review_form": ReviewForm(instance=review) if user.has_perm("review.change_conversationreview") else None,
            "can_promote": user.has_perm("review.promote_to_faq"),
            "faq_entries": list(conversation.faq_entries.all()),
        }

    def viewable_conversation(self, request: HttpRequest, object_id: str) -> Conversation:
        conversation = self.get_object(request, unquote(object_id))
        if conversation is None or not self.has_view_permission(request, conversation):
            raise Http404("No such conversation.")
        return conversation

    @staticmethod
    def require(request: HttpRequest, permission: str) -> None:
        if not request.user.has_perm(permission):
            raise PermissionDenied

    @method_decorator(require_POST)
    def review_view(self, request: StaffRequest, object_id: str) -> HttpResponse:
        self.require(request, "review.change_conversationreview")
        conversation = self.viewable_conversation(request, object_id)
        form = ReviewForm(request.POST, instance=review_of(conversation))
        if form.is_valid():
            review = actions.set_review(
                request.user, conversation, form.cleaned_data["status"], form.cleaned_data["notes"]
            )
            flash.success(request, f"Marked as “{review.get_status_display()}”.")
        else:
            flash.error(request, "The verdict was not saved: choose a status.")
        return redirect(f"{change_url(conversation)}#verdict")

    @method_decorator(require_POST)
    def promote_view(self, request: StaffRequest, object_id: str, message_id: int) -> HttpResponse:
        self.require(request, "review.promote_to_faq")
        conversation = self.viewable_conversation(request, object_id)
        answer = conversation.messages.filter(pk=message_id, role=Message.Role.ASSISTANT).first()
        if answer is None:
            raise Http404("No such answer.")
        form = PromoteForm(request.POST)
        if not form.is_valid():
            flash.error(request, "A FAQ entry needs both a question and an answer.")
            return redirect(f"{change_url(conversation)}#message-{answer.pk}")
        try:
            entry = actions.promote_to_faq(
                request.user, answer, form.cleaned_data["question"], form.cleaned_data["answer"]
            )
        except actions.ReviewError as error:
            flash.error(request, str(error))
            return redirect(f"{change_url(conversation)}#message-{answer.pk}")
        flash.success(request, f"Draft FAQ entry “{entry}” created.")
        if request.user.has_perm("faq.change_faqentry"):
            return redirect(change_url(entry))
        return redirect(f"{change_url(conversation)}#message-{answer.pk}")


@admin.register(Message)
class MessageAdmin(AuditedChangeView, admin.ModelAdmin):
    list_display = ["__str__", "conversation", "role", "status", "model", "created_at"]
    list_filter = ["role", "status", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["content"]
    list_select_related = ["conversation"]
    raw_id_fields = ["conversation"]
    readonly_fields = ["seq", "attempt", "created_at", "started_at", "finished_at"]
    show_full_result_count = False


@admin.register(Feedback)
class FeedbackAdmin(AuditedChangeView, admin.ModelAdmin):
    list_display = ["__str__", "conversation_link", "user", "vote", "comment", "updated_at"]
    list_filter = ["vote", ("updated_at", admin.DateFieldListFilter)]
    search_fields = ["comment", "user__username"]
    list_select_related = ["message__conversation", "user"]
    raw_id_fields = ["message", "user"]
    show_full_result_count = False

    @admin.display(description="Conversation")
    def conversation_link(self, feedback: Feedback) -> SafeString:
        conversation = feedback.message.conversation
        return format_html(
            '<a href="{}#message-{}">{}</a>', change_url(conversation), feedback.message_id, conversation
        )


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """The log is evidence: nobody edits or removes it from the admin."""

    list_display = ["created_at", "username", "action", "object_link", "detail"]
    list_filter = ["action", ("created_at", admin.DateFieldListFilter), "content_type"]
    search_fields = ["username", "object_repr", "object_id"]
    list_select_related = ["content_type"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    @admin.display(description="Object")
    def object_link(self, entry: AuditEntry) -> str:
        if entry.content_type is None or not entry.object_id:
            return entry.object_repr or "—"
        try:
            url = reverse(
                f"admin:{entry.content_type.app_label}_{entry.content_type.model}_change", args=[entry.object_id]
            )
        except NoReverseMatch:
            return entry.object_repr
        return format_html('<a href="{}">{}</a>', url, entry.object_repr)


@admin.register(Metrics)
class MetricsAdmin(ReadOnlyAdmin):
    RANGES = [7, 30, 90, 365]

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        return [path("", self.admin_site.admin_view(self.changelist_view), name="{}_{}_changelist".format(*info))]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, object] | None = None) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            days = int(request.GET.get("days", 30))
        except ValueError:
            days = 30
        start, end = metrics.day_range(days)
        figures = metrics.daily_figures(start, end)
        context = {
            **self.admin_site.each_context(request),
            "title": "Metrics",
            "opts": self.opts,
            "days": figures,
            "newest_first": list(reversed(figures)),
            "charts": metrics.charts(figures),
            "ranges": self.RANGES,
            "selected_days": (end - start).days + 1,
            "start": start,
            "end": end,
            **(extra_context or {}),
        }
        return TemplateResponse(request, "review/metrics.html", context)
