from django.urls import path, re_path

from chatapp.api import views

app_name = "api"

urlpatterns = [
    path("models", views.models, name="models"),
    path("models/<str:model_id>", views.model, name="model"),
    path("chat/completions", views.chat_completions, name="chat-completions"),
    # OpenAI clients expect JSON errors everywhere under /v1/, not an HTML page.
    re_path(r"^.*$", views.unknown_endpoint),
]
