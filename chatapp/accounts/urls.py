from django.urls import path

from chatapp.accounts import views

app_name = "accounts"

urlpatterns = [
    path("oidc/login/", views.provider_login, name="provider_login"),
    path("oidc/callback/", views.callback, name="callback"),
    path("signed-out/", views.signed_out, name="signed_out"),
]
