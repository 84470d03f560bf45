from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from chatapp.chat.models import Bot, TokenQuota


@admin.register(Bot)
class BotAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "model",
        "temperature",
        "max_tokens",
        "uses_knowledge_base",
        "is_default",
        "limited_to",
    ]
    list_filter = ["groups"]
    filter_horizontal = ["groups"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Bot]:
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="limited to")
    def limited_to(self, bot: Bot) -> str:
        return ", ".join(group.name for group in bot.groups.all()) or "everyone"

    prepopulated_fields = {"slug": ["name"]}


@admin.register(TokenQuota)
class TokenQuotaAdmin(admin.ModelAdmin):
    list_display = ["owner_label", "daily_tokens", "used_today"]
    list_select_related = ["user", "group"]
    autocomplete_fields = ["user", "group"]

    @admin.display(description="For")
    def owner_label(self, quota: TokenQuota) -> str:
        return quota.owner_label

    @admin.display(description="Used today")
    def used_today(self, quota: TokenQuota) -> str:
        return f"{quota.used_today():,}"
