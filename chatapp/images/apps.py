from django.apps import AppConfig


class ImagesConfig(AppConfig):
    name = "chatapp.images"
    label = "images"

    def ready(self) -> None:
        from chatapp.chat import extensions
        from chatapp.images import signals  # noqa: F401
        from chatapp.images.vision import PromptImages, message_images

        extensions.register_images(PromptImages())
        extensions.register_payload(message_images)
        extensions.register_templates(extensions.Slot.COMPOSER, "images/slot_composer.html")
        extensions.register_templates(
            extensions.Slot.MESSAGE_ATTACHMENTS,
            "images/slot_message_attachments.html",
            prefetch=("images", "images_left_out"),
        )
