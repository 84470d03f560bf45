from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "chatapp.review"
    label = "review"
