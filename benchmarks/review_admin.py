"""Conversation review in the admin with 10,000 conversations and 200,000 messages.

Creates a throwaway test database (on DATABASE_URL's server, or SQLite in
memory), seeds it, then requests the conversation list (plain, paged,
filtered, searched, sorted), one conversation page and the metrics page as a
reviewer, and exports every conversation as JSONL and CSV. Prints SQL queries
and the median time of each.

    python -m benchmarks.review_admin [--conversations N] [--messages-per-conversation M] [--runs R]
"""

import argparse
import os
import statistics
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatapp.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

from chatapp.chat.models import Conversation, Message  # noqa: E402
from tests.review.seeding import seed_conversations  # noqa: E402

LIST = "/admin/chat/conversation/"
PAGES = [
    ("list, first page", LIST, {}),
    ("list, page 50", LIST, {"p": "50"}),
    ("list, has thumbs-down", LIST, {"thumbs_down": "yes"}),
    ("list, has error + source api", LIST, {"error": "yes", "source": "api"}),
    ("list, needs fix + model", LIST, {"review": "needs_fix", "model": "smollm2-135m"}),
    ("list, search message text", LIST, {"q": "restarting"}),
    ("list, sorted by messages", LIST, {"o": "-5"}),
    ("metrics, 30 days", "/admin/review/metrics/", {}),
    ("metrics, 90 days", "/admin/review/metrics/", {"days": "90"}),
]


def timed(client, path, params, runs):
    client.get(path, params)  # warm caches (content types, templates)
    times = []
    for _ in range(runs):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(path, params)
            times.append(time.perf_counter() - started)
        assert response.status_code == 200, (path, response.status_code)
    return len(queries), statistics.median(times)


def export(client, action, ids):
    started = time.perf_counter()
    response = client.post(LIST, {"action": action, "select_across": "1", "index": "0", "_selected_action": ids[:1]})
    size = sum(len(part) for part in response.streaming_content)
    return time.perf_counter() - started, size


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--messages-per-conversation", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()

    setup_test_environment()
    database = settings.DATABASES["default"]
    if connection.vendor != "sqlite":  # SQLite's test database is in memory
        database.setdefault("TEST", {})["NAME"] = f"{database['NAME']}_review_benchmark"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        started = time.perf_counter()
        seed_conversations(options.conversations, options.messages_per_conversation)
        print(
            f"database: {connection.vendor}; seeded {Conversation.objects.count():,} conversations and "
            f"{Message.objects.count():,} messages in {time.perf_counter() - started:.1f} s"
        )

        reviewer = User.objects.create_user("reviewer", is_staff=True)
        reviewer.groups.add(Group.objects.get(name="Reviewer"))
        client = Client()
        client.force_login(reviewer)

        conversation = Conversation.objects.order_by("-updated_at").first()
        pages = [*PAGES, ("conversation page", f"{LIST}{conversation.pk}/change/", {})]
        print(f"{'page':34} {'queries':>8} {'median':>10}")
        for label, path, params in pages:
            count, seconds = timed(client, path, params, options.runs)
            print(f"{label:34} {count:>8} {seconds * 1000:>8.0f} ms")

        ids = list(Conversation.objects.values_list("pk", flat=True)[:1])
        for action in ("export_jsonl", "export_csv"):
            seconds, size = export(client, action, ids)
            print(f"{action} of every conversation: {size / 1e6:.1f} MB in {seconds:.1f} s")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
