from django.urls import path

from chatapp.faq import views

app_name = "faq"

urlpatterns = [
    path("", views.entry_list, name="list"),
    path("confirm/", views.confirm, name="confirm"),
    path("<slug:key>/", views.entry, name="entry"),
]
