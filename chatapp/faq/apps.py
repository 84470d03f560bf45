from django.apps import AppConfig


class FaqConfig(AppConfig):
    name = "chatapp.faq"
    label = "faq"
