from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chatapp.chat"
    label = "chat"
    verbose_name = "Chat"

    def ready(self) -> None:
        from chatapp.chat import sessions  # noqa: F401  (signal receivers)
