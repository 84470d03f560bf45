from django.urls import path

from chatapp.images import views

app_name = "images"

urlpatterns = [
    path("", views.upload, name="upload"),
    path("<int:attachment_id>/", views.image_file, name="file"),
    path("<int:attachment_id>/thumbnail/", views.thumbnail, name="thumbnail"),
]
