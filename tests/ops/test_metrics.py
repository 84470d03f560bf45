"""Prometheus metrics: answers by status and error code, in-progress gauges, speed histograms."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY

from chatapp.chat import lifecycle
from chatapp.chat.models import Conversation, Message

pytestmark = pytest.mark.django_db(transaction=True)


def sample(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0


def answer(alice, **fields):
    conversation = Conversation.objects.create(owner=alice)
    return Message.objects.append(conversation=conversation, role="assistant", **fields)


def test_metrics_are_not_shown_to_other_hosts_without_a_token(client):
    assert client.get("/metrics", REMOTE_ADDR="10.0.0.9").status_code == 404
    assert client.get("/metrics").status_code == 200  # from this host


def test_metrics_need_the_token_when_one_is_set(client, settings):
    settings.METRICS_TOKEN = "scrape-secret"
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret", REMOTE_ADDR="10.0.0.9")
    assert response.status_code == 200
    assert b"chatapp_answers_in_progress" in response.content


def test_a_finished_answer_is_counted_by_status_and_error_code(alice):
    before = sample("chatapp_answers_total", status="error", error_code="timeout")
    reply = answer(alice, status="streaming")
    assert reply.finish("error", error="The model service stopped responding.", error_code="timeout")
    assert not reply.finish("error", error_code="timeout")  # ended already: not counted twice
    assert sample("chatapp_answers_total", status="error", error_code="timeout") == before + 1


def test_time_to_first_token_and_speed_are_observed(alice):
    ttft_before = sample("chatapp_answer_time_to_first_token_seconds_count")
    speed_before = sample("chatapp_answer_tokens_per_second_bucket", le="20.0")
    reply = answer(alice, status="streaming")
    reply.finish("done", content="Hello", time_to_first_token=0.5, duration=5.5, completion_tokens=50)
    assert sample("chatapp_answer_time_to_first_token_seconds_count") == ttft_before + 1
    # 50 tokens in the 5 s after the first one: 10 tokens/s.
    assert sample("chatapp_answer_tokens_per_second_bucket", le="20.0") == speed_before + 1


def test_queued_and_streaming_answers_are_counted_when_scraped(client, alice):
    answer(alice, status="queued")
    answer(alice, status="queued")
    answer(alice, status="streaming")
    answer(alice, status="done")
    text = client.get("/metrics").content.decode()
    assert 'chatapp_answers_in_progress{status="queued"} 2.0' in text
    assert 'chatapp_answers_in_progress{status="streaming"} 1.0' in text


def test_what_the_reaper_does_is_counted_by_action(alice):
    before = sample("chatapp_reaper_actions_total", action="ended_orphans")
    # Started two minutes ago and nobody renews its lease: its worker is gone.
    answer(alice, status="streaming", content="partial", started_at=timezone.now() - timedelta(minutes=2))
    lifecycle.reap()
    assert sample("chatapp_reaper_actions_total", action="ended_orphans") == before + 1
    assert sample("chatapp_answers_total", status="error", error_code="worker_lost") >= 1
