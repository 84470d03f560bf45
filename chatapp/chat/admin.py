from django.contrib import admin

from chatapp.chat.models import Bot


@admin.register(Bot)
class BotAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "model", "temperature", "max_tokens", "uses_knowledge_base", "is_default"]
    prepopulated_fields = {"slug": ["name"]}
