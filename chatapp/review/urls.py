from django.urls import path

from chatapp.review import views

app_name = "review"

urlpatterns = [
    path("feedback/<int:message_id>/", views.feedback, name="feedback"),
]
