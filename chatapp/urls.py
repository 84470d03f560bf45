from django.contrib import admin
from django.urls import include, path

from chatapp.accounts import views as accounts

urlpatterns = [
    # The admin's "Log out" ends the provider's session too, like the app's.
    path("admin/logout/", accounts.logout),
    path("admin/", admin.site.urls),
    path("accounts/login/", accounts.LoginView.as_view(), name="login"),
    path("accounts/logout/", accounts.logout, name="logout"),
    path("accounts/", include("chatapp.accounts.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("images/", include("chatapp.images.urls")),
    path("review/", include("chatapp.review.urls")),
    path("faq/", include("chatapp.faq.urls")),
    path("v1/", include("chatapp.api.urls")),
    path("", include("chatapp.ops.urls")),
    path("", include("chatapp.chat.urls")),
]

# A database outage is a 503 with a page saying so, not a 500.
handler500 = "chatapp.ops.views.server_error"
