from django.urls import path

from chatapp.chat import views

app_name = "chat"

urlpatterns = [
    path("", views.home, name="home"),
    path("code.css", views.code_style, name="code_style"),
    path("c/<int:conversation_id>/", views.conversation, name="conversation"),
    path("c/<int:conversation_id>/rename/", views.rename, name="rename"),
    path("c/<int:conversation_id>/delete/", views.delete, name="delete"),
]
