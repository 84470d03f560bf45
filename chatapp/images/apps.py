from django.apps import AppConfig


class ImagesConfig(AppConfig):
    name = "chatapp.images"
    label = "images"

    def ready(self):
        from chatapp.images import signals  # noqa: F401
