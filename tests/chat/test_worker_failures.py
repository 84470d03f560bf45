"""A redelivered task never writes a second answer; a dead worker's answer ends in error."""

from datetime import timedelta

import pytest
from django.utils import timezone

from chatapp.chat import actions, live
from chatapp.chat.models import Conversation, Message
from chatapp.chat.tasks import generate_reply

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_task_delivered_twice_writes_one_answer(alice, model_service, monkeypatch):
    monkeypatch.setattr(actions, "queue_reply", lambda reply: None)
    _, _, _, reply = actions.send_message(alice, "Say hello.")
    # Run in this thread twice, as a broker redelivery would: the second finds it taken.
    generate_reply.run(reply.pk)
    reply.refresh_from_db()
    first = (reply.content, reply.finished_at)
    generate_reply.run(reply.pk)
    reply.refresh_from_db()
    assert reply.status == "done" and (reply.content, reply.finished_at) == first
    assert Message.objects.filter(conversation=reply.conversation, role="assistant").count() == 1


def test_an_answer_whose_worker_died_ends_in_error_with_retry(alice):
    conversation = Conversation.objects.create(owner=alice)
    Message.objects.create(conversation=conversation, role="user", content="hi")
    reply = Message.objects.create(
        conversation=conversation,
        role="assistant",
        status="streaming",
        content="partial",
        started_at=timezone.now() - timedelta(minutes=2),
    )
    assert not live.lease_held(reply.pk)  # nobody renews it: the worker is gone
    assert actions.reap_if_orphaned(reply)
    reply.refresh_from_db()
    assert reply.status == "error" and reply.content == "partial"
    assert "stopped unexpectedly" in reply.error


def test_a_live_worker_is_left_alone(alice):
    conversation = Conversation.objects.create(owner=alice)
    reply = Message.objects.create(
        conversation=conversation, role="assistant", status="streaming", started_at=timezone.now() - timedelta(minutes=2)
    )
    live.sync_redis().set(live.lease_key(reply.pk), 1, ex=10)
    assert not actions.reap_if_orphaned(reply)
    reply.refresh_from_db()
    assert reply.status == "streaming"
