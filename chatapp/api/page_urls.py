from django.urls import path

from chatapp.api import pages

app_name = "api-tokens"

urlpatterns = [
    path("", pages.tokens, name="list"),
    path("new/", pages.create, name="create"),
    path("<int:token_id>/revoke/", pages.revoke, name="revoke"),
]
