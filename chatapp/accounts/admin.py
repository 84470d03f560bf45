from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db.models import F, QuerySet
from django.db.models.expressions import Combinable
from django.http import HttpRequest
from django.utils import timezone

from chatapp.accounts.models import Identity, SignedInSession, Usage
from chatapp.readonly_admin import ReadOnlyAdmin

if TYPE_CHECKING:
    from django.contrib.admin.filters import _ListFilterChoices


class UsageRow(Protocol):
    """A user as UsageQuerySet.in_period annotates them."""

    last_active: datetime | None
    conversations_in_period: int
    messages_in_period: int
    tokens_in_period: int


PERIODS = {"1": "Last 24 hours", "7": "Last 7 days", "30": "Last 30 days", "90": "Last 90 days", "365": "Last year"}
DEFAULT_PERIOD = "30"


@admin.register(Identity)
class IdentityAdmin(ReadOnlyAdmin):
    deletable = True
    list_display = ["user", "email", "issuer", "signed_in_at", "refused_at"]
    search_fields = ["user__username", "email", "subject"]
    readonly_fields = [
        "user",
        "issuer",
        "subject",
        "email",
        "provider_groups",
        "signed_in_at",
        "checked_at",
        "refused_at",
    ]


@admin.register(SignedInSession)
class SignedInSessionAdmin(ReadOnlyAdmin):
    deletable = True
    list_display = ["user", "method", "created_at"]
    list_filter = ["method"]
    search_fields = ["user__username"]
    readonly_fields = ["user", "session_key", "method", "created_at"]


class PeriodFilter(admin.SimpleListFilter):
    title = "period"
    parameter_name = "period"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Usage]) -> list[tuple[str, str]]:
        return list(PERIODS.items())

    def choices(self, changelist: ChangeList) -> Iterator[_ListFilterChoices]:
        chosen = self.value() or DEFAULT_PERIOD
        for value, label in self.lookup_choices:
            yield {
                "selected": chosen == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Usage]) -> QuerySet[Usage]:
        # The period shapes the counts (UsageAdmin.get_queryset), not which users are listed.
        return queryset


@admin.register(Usage)
class UsageAdmin(ReadOnlyAdmin):
    """Who used the bot when: last activity, and conversations and messages in a period."""

    list_display = [
        "username",
        "email",
        "is_active",
        "last_active",
        "conversations_in_period",
        "messages_in_period",
        "tokens_in_period",
        "last_login",
    ]
    list_filter = [PeriodFilter, "is_active", "groups"]
    search_fields = ["username", "email", "first_name", "last_name"]
    list_display_links = None
    list_per_page = 100

    def get_queryset(self, request: HttpRequest) -> QuerySet[Usage]:
        period = request.GET.get("period", DEFAULT_PERIOD)
        days = int(period) if period in PERIODS else int(DEFAULT_PERIOD)
        return Usage.objects.in_period(timezone.now() - timedelta(days=days))

    def get_ordering(self, request: HttpRequest) -> list[str | Combinable]:
        return [F("last_active").desc(nulls_last=True), "username"]

    @admin.display(ordering="last_active", description="last active")
    def last_active(self, user: UsageRow) -> datetime | None:
        return user.last_active

    @admin.display(ordering="conversations_in_period", description="conversations in period")
    def conversations_in_period(self, user: UsageRow) -> int:
        return user.conversations_in_period

    @admin.display(ordering="messages_in_period", description="messages in period")
    def messages_in_period(self, user: UsageRow) -> int:
        return user.messages_in_period

    @admin.display(ordering="tokens_in_period", description="tokens in period")
    def tokens_in_period(self, user: UsageRow) -> int:
        return user.tokens_in_period


class IdentityInline(admin.StackedInline):
    model = Identity
    can_delete = False
    readonly_fields = IdentityAdmin.readonly_fields
    fields = tuple(readonly_fields)

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class UserAdmin(auth_admin.UserAdmin):
    inlines = [*auth_admin.UserAdmin.inlines, IdentityInline]
    actions = ["deactivate"]

    @admin.action(description="Deactivate the selected users and end their sessions", permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet[AbstractUser]) -> None:
        count = 0
        # One save() per user, never an update(): the signals that end
        # sessions and close sockets listen for saves.
        for user in queryset.filter(is_active=True).exclude(pk=request.user.pk):
            user.is_active = False
            user.save()
            count += 1
        self.message_user(request, f"Deactivated {count} user(s); their sessions are ended.", messages.SUCCESS)
