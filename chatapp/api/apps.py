from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "chatapp.api"
    label = "api"
    verbose_name = "API"

    def ready(self) -> None:
        from chatapp.api import checks  # noqa: F401  (registers the settings check)
        from chatapp.api.models import CompletionRequest
        from chatapp.chat import extensions

        extensions.register_generation(CompletionRequest.overrides_for)
