from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "chatapp.review"
    label = "review"

    def ready(self) -> None:
        from chatapp.chat import extensions

        # Thumbs up or down on each answer, and the scripts that send them.
        extensions.register_templates(extensions.Slot.PAGE_HEAD, "review/slot_page_head.html")
        extensions.register_templates(
            extensions.Slot.MESSAGE_FOOTER, "review/slot_message_footer.html", prefetch=("feedback",)
        )
