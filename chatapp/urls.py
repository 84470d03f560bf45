from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path

from chatapp.accounts import views as accounts
from chatapp.chat.quotas import rate_limited_view

# Password reset mails a link: without mail (EMAIL_URL) its pages do not
# exist, and with it each address may ask PASSWORD_RESET_RATE times.
if settings.PASSWORD_RESET_ENABLED:
    password_urls: list[URLPattern | URLResolver] = [
        path(
            "password_reset/",
            rate_limited_view("password_reset")(auth_views.PasswordResetView.as_view()),
            name="password_reset",
        ),
        path("", include("django.contrib.auth.urls")),
    ]
else:
    password_urls = [
        path("password_change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
        path("password_change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    ]

urlpatterns = [
    # The admin's "Log out" ends the provider's session too, like the app's.
    path("admin/logout/", accounts.logout),
    path("admin/", admin.site.urls),
    path("accounts/login/", accounts.LoginView.as_view(), name="login"),
    path("accounts/logout/", accounts.logout, name="logout"),
    path("accounts/", include("chatapp.accounts.urls")),
    path("accounts/", include(password_urls)),
    path("images/", include("chatapp.images.urls")),
    path("review/", include("chatapp.review.urls")),
    path("faq/", include("chatapp.faq.urls")),
    path("documents/", include("chatapp.documents.urls")),
    path("v1/", include("chatapp.api.urls")),
    path("tokens/", include("chatapp.api.page_urls")),
    path("", include("chatapp.ops.urls")),
    path("", include("chatapp.chat.urls")),
]

# A database outage is a 503 with a page saying so, not a 500.
handler500 = "chatapp.ops.views.server_error"
