from django.urls import path

from chatapp.ops import views

app_name = "ops"

# ProbeMiddleware answers these paths first; the routes name them for reverse().
urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.metrics, name="metrics"),
]
