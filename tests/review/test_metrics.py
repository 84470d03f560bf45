"""The metrics page: daily figures, percentiles defined one way on every database, a chart."""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from chatapp.chat.models import Conversation, Message
from chatapp.review import actions, metrics
from tests.support.conversations import answer_of, converse

pytestmark = pytest.mark.django_db


def test_percentiles_interpolate_between_ranks():
    assert metrics.percentile([], 0.95) is None
    assert metrics.percentile([3.0], 0.95) == 3.0
    assert metrics.percentile([1, 2, 3, 4], 0.5) == 2.5
    assert metrics.percentile(list(range(1, 101)), 0.95) == pytest.approx(95.05)


def at_noon(days_ago):
    day = timezone.localdate() - timedelta(days=days_ago)
    return timezone.make_aware(datetime.combine(day, time(12)))


@pytest.fixture
def two_days(alice, bob):
    """Yesterday: one conversation, five answers. Today: two users, one error, feedback."""
    yesterday = converse(
        alice, [(f"q{n}", f"a{n}", {"time_to_first_token": ttft}) for n, ttft in enumerate([0.1, 0.2, 0.3, 0.4, 2.0])]
    )
    moment = at_noon(1)
    Conversation.objects.filter(pk=yesterday.pk).update(created_at=moment)
    yesterday.messages.update(created_at=moment, finished_at=moment)
    today = converse(alice, [("x", "y", {"time_to_first_token": 1.0, "duration": 3.0, "completion_tokens": 40})])
    converse(bob, [("z", "", {"status": Message.Status.ERROR, "error": "down", "time_to_first_token": None})])
    actions.give_feedback(alice, answer_of(today).pk, "up")
    return yesterday, today


def test_daily_figures(two_days):
    start, end = metrics.day_range(2)
    yesterday, today = metrics.daily_figures(start, end)
    assert (yesterday.conversations, yesterday.messages, yesterday.active_users, yesterday.answers) == (0 + 1, 10, 1, 5)
    assert yesterday.ttft_median == 0.3
    assert yesterday.ttft_p95 == pytest.approx(0.4 + (2.0 - 0.4) * 0.8)
    assert yesterday.error_rate == 0
    assert (today.conversations, today.messages, today.active_users, today.answers, today.errors) == (2, 4, 2, 2, 1)
    assert today.error_rate == 0.5
    assert today.tokens_per_second == pytest.approx(40 / 2.0)
    assert (today.thumbs_up, today.thumbs_down, today.thumbs_up_ratio) == (1, 0, 1.0)
    assert yesterday.thumbs_up_ratio is None


def test_the_page_shows_a_chart_and_a_table(reviewer_client, two_days):
    response = reviewer_client.get("/admin/review/metrics/", {"days": 7})
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('<figure class="review-chart">') == 2 and "<rect" in html and "<polyline" in html
    assert "Conversations and messages per day" in html and "Time to first token" in html
    assert "0.30 s" in html  # yesterday's median time to first token
    assert "50 %" in html  # today's error rate
    assert len(response.context["days"]) == 7


def test_the_range_is_bounded(reviewer_client):
    response = reviewer_client.get("/admin/review/metrics/", {"days": 100000})
    assert len(response.context["days"]) == metrics.MAX_DAYS
    assert reviewer_client.get("/admin/review/metrics/", {"days": "many"}).status_code == 200


def test_the_admin_index_links_to_the_metrics(reviewer_client):
    assert 'href="/admin/review/metrics/"' in reviewer_client.get("/admin/").content.decode()
