from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "chatapp.ops"
    label = "ops"
    verbose_name = "Operations"
