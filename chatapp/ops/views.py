"""Probes for process managers and load balancers, metrics for Prometheus, the outage page."""

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.views.defaults import server_error as django_server_error
from prometheus_client import CONTENT_TYPE_LATEST

from chatapp.ops.checks import SERVING, run_checks
from chatapp.ops.exposition import metrics_allowed, metrics_page

logger = logging.getLogger(__name__)


def healthz(request: HttpRequest) -> HttpResponse:
    """The process is up and serving; nothing else is checked."""
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> HttpResponse:
    """Whether this web process can serve (database and Redis; 503 if not) and, apart, whether the model answers.

    A model that is loading or restarting does not take the web service out of
    rotation: history, the FAQ and the admin still work, and questions wait for
    the model. Timings and errors go only to the metrics audience (METRICS_TOKEN,
    or this host).
    """
    results = run_checks()
    serving = all(results[name].ok for name in SERVING)
    body: dict = {
        "status": "ok" if serving else "unavailable",
        "serving": serving,
        "model": "ready" if results["model"].ok else "unavailable",
    }
    if metrics_allowed(request):
        body["checks"] = {name: result.as_json() for name, result in results.items()}
    return JsonResponse(body, status=200 if serving else 503)


def metrics(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        return HttpResponse("Not found.\n", status=404, content_type="text/plain")
    return HttpResponse(metrics_page(), content_type=CONTENT_TYPE_LATEST)


PROBES = {"/healthz": healthz, "/readyz": readyz, "/metrics": metrics}


def is_database_outage(error: BaseException | None) -> bool:
    # An OperationalError/InterfaceError is the server gone or unreachable;
    # other DatabaseErrors (integrity, bad SQL) are bugs and stay 500s.
    return isinstance(error, (OperationalError, InterfaceError))


def database_unavailable_page() -> HttpResponse:
    response = HttpResponse(loader.render_to_string("ops/database_unavailable.html"), status=503)
    response["Retry-After"] = "10"
    return response


def server_error(request: HttpRequest, template_name: str = "500.html") -> HttpResponse:
    """handler500: a database outage is a 503 with a page saying so, anything else Django's 500."""
    error = sys.exc_info()[1]
    if is_database_outage(error):
        logger.warning("Database unavailable while serving %s: %s", request.path, error)
        return database_unavailable_page()
    return django_server_error(request, template_name)
