from django.urls import path

from chatapp.chat import views

app_name = "chat"

urlpatterns = [
    path("", views.home, name="home"),
    path("code.css", views.code_style, name="code_style"),
    path("search/", views.search, name="search"),
    path("c/<int:conversation_id>/", views.conversation, name="conversation"),
    path("c/<int:conversation_id>/transcript/", views.transcript, name="transcript"),
    path("c/<int:conversation_id>/rename/", views.rename, name="rename"),
    path("c/<int:conversation_id>/delete/", views.delete, name="delete"),
    path("c/<int:conversation_id>/pin/", views.pin, name="pin"),
    path("c/<int:conversation_id>/archive/", views.archive, name="archive"),
    path("c/<int:conversation_id>/export.md", views.export_markdown, name="export_markdown"),
    path("c/<int:conversation_id>/export.json", views.export_json, name="export_json"),
]
