from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from chatapp.ops.views import PROBES


class ProbeMiddleware:
    """Answers /healthz, /readyz and /metrics before anything else runs.

    Probes come from process managers and scrapers that address the process
    by IP or container name: they must not depend on ALLOWED_HOSTS, HTTPS
    redirects, sessions or the database (for /healthz).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info)
        if probe is not None and request.method in ("GET", "HEAD"):
            return probe(request)
        return self.get_response(request)
