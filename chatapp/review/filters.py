"""The conversation list's filters: each one adds a single condition, never a join that multiplies rows."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin
from django.db.models import Exists, Q, QuerySet
from django.http import HttpRequest

from chatapp.chat.models import Conversation, Message
from chatapp.review.models import ConversationReview, answered_by, has_error, has_thumbs_down, review_status_is


class YesNoFilter(admin.SimpleListFilter):
    condition: Callable[[], Q | Exists]

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Conversation]) -> list[tuple[str, str]]:
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> QuerySet[Conversation]:
        if self.value() == "yes":
            return queryset.filter(self.condition())
        if self.value() == "no":
            return queryset.filter(~self.condition())
        return queryset


class ThumbsDownFilter(YesNoFilter):
    title = "has thumbs-down"
    parameter_name = "thumbs_down"
    condition = staticmethod(has_thumbs_down)


class ErrorFilter(YesNoFilter):
    title = "has error"
    parameter_name = "error"
    condition = staticmethod(has_error)


class ReviewStatusFilter(admin.SimpleListFilter):
    title = "review status"
    parameter_name = "review"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Conversation]) -> list[tuple[str, str]]:
        return ConversationReview.Status.choices

    def queryset(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> QuerySet[Conversation]:
        status = self.value()
        if status in ConversationReview.Status.values:
            return queryset.filter(review_status_is(status))
        return queryset


class ModelFilter(admin.SimpleListFilter):
    title = "model"
    parameter_name = "model"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Conversation]) -> list[tuple[str, str]]:
        models = (
            Message.objects.filter(role=Message.Role.ASSISTANT)
            .exclude(model="")
            .order_by("model")
            .values_list("model", flat=True)
            .distinct()
        )
        return [(name, name) for name in models]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> QuerySet[Conversation]:
        model = self.value()
        if model:
            return queryset.filter(answered_by(model))
        return queryset
