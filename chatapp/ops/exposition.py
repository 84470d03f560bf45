"""What /metrics returns and to whom."""

import glob
import hmac
import ipaddress
import os
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.http import HttpRequest
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector


def metrics_allowed(request: HttpRequest) -> bool:
    """With METRICS_TOKEN: the matching bearer token; without: requests from this host only."""
    if settings.METRICS_TOKEN:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), settings.METRICS_TOKEN.encode())
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


class AnswersInProgress:
    """Queued and streaming answers, counted in the database at scrape time.

    The database knows them whichever process queued or writes them, and a
    count survives restarts that per-process gauges would lose.
    """

    def collect(self) -> Iterator[Metric]:
        from django.db import DatabaseError
        from django.db.models import Count, Min
        from django.utils import timezone

        from chatapp.chat.models import Message

        try:
            rows = {
                row["status"]: row
                for row in Message.objects.filter(status__in=Message.ACTIVE)
                .values("status")
                .annotate(count=Count("id"), oldest=Min("created_at"))
            }
        except DatabaseError:
            # The database is down: the counters above still get scraped.
            return
        answers = GaugeMetricFamily(
            "chatapp_answers_in_progress", "Answers queued or streaming now.", labels=["status"]
        )
        oldest = GaugeMetricFamily(
            "chatapp_answer_oldest_in_progress_seconds",
            "Age of the oldest answer in each status (0 when none).",
            labels=["status"],
        )
        now = timezone.now()
        for status in Message.ACTIVE:
            row = rows.get(status)
            answers.add_metric([status], row["count"] if row else 0)
            oldest.add_metric([status], (now - row["oldest"]).total_seconds() if row else 0)
        yield answers
        yield oldest


def metrics_page() -> bytes:
    in_progress = CollectorRegistry()
    in_progress.register(AnswersInProgress())
    directory = settings.METRICS_DIR or os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        recorded = CollectorRegistry()
        SamplesBelow(recorded, path=directory)
    else:
        recorded = REGISTRY
    return generate_latest(recorded) + generate_latest(in_progress)


class SamplesBelow(MultiProcessCollector):
    """prometheus_client's multiprocess collector over every process's files below `directory`.

    One directory per host (container): processes of different containers
    may have the same pid, which names their files.
    """

    def collect(self) -> Iterable[Metric]:
        files = glob.glob(os.path.join(self._path, "**", "*.db"), recursive=True)
        return self.merge(files, accumulate=True)
