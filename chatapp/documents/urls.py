from django.urls import path

from chatapp.documents import views

app_name = "documents"

urlpatterns = [
    path("", views.document_list, name="list"),
    path("<int:document_id>/", views.document, name="document"),
    path("<int:document_id>/original/", views.original, name="original"),
]
