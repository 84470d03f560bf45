from django.apps import AppConfig


class KnowledgeBase:
    """The knowledge base's side of the core's answer path (see chatapp.chat.extensions)."""

    def ground(self, bot, turns, system, reply):
        from chatapp.faq.grounding import ground

        return ground(bot, turns, system, reply)

    def finalize(self, reply, text, sources):
        from chatapp.chat.extensions import FinalAnswer
        from chatapp.faq.grounding import mark_cited

        return FinalAnswer(text, mark_cited(sources, text))


class FaqConfig(AppConfig):
    name = "chatapp.faq"
    label = "faq"

    def ready(self):
        from chatapp.chat import extensions

        extensions.register_knowledge_base(KnowledgeBase())
