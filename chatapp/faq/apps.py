from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save

if TYPE_CHECKING:
    from chatapp.chat.extensions import FinalAnswer, Grounding
    from chatapp.chat.models import Bot, Message


class KnowledgeBase:
    """The knowledge base's side of the core's answer path (see chatapp.chat.extensions)."""

    def ground(self, bot: Bot | None, turns: list, system: str, reply: Message) -> Grounding:
        from chatapp.faq.grounding import ground

        return ground(bot, turns, system, reply)

    def finalize(self, reply: Message, text: str, sources: list) -> FinalAnswer:
        from chatapp.faq.grounding import finalize

        return finalize(reply, text, sources)


def forget_index(sender: type, **kwargs: Any) -> None:
    # Other processes notice the change by the entries' fingerprint; this one need not wait for it.
    from chatapp.faq.search import current_index

    current_index.clear()


class FaqConfig(AppConfig):
    name = "chatapp.faq"
    label = "faq"

    def ready(self) -> None:
        from chatapp.chat import extensions

        extensions.register_templates(extensions.Slot.PAGE_HEAD, "faq/slot_page_head.html")
        extensions.register_templates(extensions.Slot.MESSAGE_SOURCES, "faq/slot_message_sources.html")
        extensions.register_knowledge_base(KnowledgeBase())
        post_save.connect(forget_index, sender="faq.FAQEntry", dispatch_uid="faq-forget-index-on-save")
        post_delete.connect(forget_index, sender="faq.FAQEntry", dispatch_uid="faq-forget-index-on-delete")
