from __future__ import annotations

from typing import TYPE_CHECKING

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save

if TYPE_CHECKING:
    from chatapp.chat.extensions import FinalAnswer, Grounding
    from chatapp.chat.models import Bot, Message
    from chatapp.chat.prompt import Turn
    from chatapp.faq.grounding import Source


class KnowledgeBase:
    """The knowledge base's side of the core's answer path (see chatapp.chat.extensions)."""

    def ground(self, bot: Bot | None, turns: list[Turn], system: str, reply: Message) -> Grounding:
        from chatapp.faq.grounding import ground

        return ground(bot, turns, system, reply)

    def finalize(self, reply: Message, text: str, sources: list[Source]) -> FinalAnswer:
        from chatapp.faq.grounding import finalize

        return finalize(reply, text, sources)


def document_changed(sender: type, instance: object = None, **kwargs: object) -> None:
    # Progress saves while a document is read change nothing answers may cite.
    if kwargs.get("signal") is post_delete or getattr(instance, "is_ready", False):
        entries_changed(sender, **kwargs)


def entries_changed(sender: type, **kwargs: object) -> None:
    # Every process notices the change by the entries' fingerprint; the embeddings are
    # computed once, in a task, as soon as the change is committed.
    from django.db import transaction

    from chatapp.faq.search import queue_rebuild

    transaction.on_commit(queue_rebuild)


class FaqConfig(AppConfig):
    name = "chatapp.faq"
    label = "faq"

    def ready(self) -> None:
        from chatapp.chat import extensions

        extensions.register_templates(extensions.Slot.PAGE_HEAD, "faq/slot_page_head.html")
        extensions.register_templates(extensions.Slot.MESSAGE_SOURCES, "faq/slot_message_sources.html")
        extensions.register_knowledge_base(KnowledgeBase())
        post_save.connect(entries_changed, sender="faq.FAQEntry", dispatch_uid="faq-rebuild-index-on-save")
        post_delete.connect(entries_changed, sender="faq.FAQEntry", dispatch_uid="faq-rebuild-index-on-delete")
        # A document made ready, re-processed, published, withdrawn or deleted changes the passages.
        post_save.connect(document_changed, sender="documents.Document", dispatch_uid="faq-rebuild-index-on-document")
        post_delete.connect(
            document_changed, sender="documents.Document", dispatch_uid="faq-rebuild-index-on-document-delete"
        )
