"""A redelivered task never writes a second answer; a dead worker's answer ends in error."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from chatapp.chat import actions, lifecycle, live
from chatapp.chat.error_help import next_step
from chatapp.chat.models import Conversation, Message
from chatapp.chat.tasks import generate_reply

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_task_delivered_twice_writes_one_answer(alice, model_service, no_worker):
    reply = actions.send_message(alice, "Say hello.").reply
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
    Message.objects.append(conversation=conversation, role="user", content="hi")
    reply = Message.objects.append(
        conversation=conversation,
        role="assistant",
        status="streaming",
        content="partial",
        started_at=timezone.now() - timedelta(minutes=2),
    )
    assert not live.lease_held(reply.pk)  # nobody renews it: the worker is gone
    assert lifecycle.reap_if_orphaned(reply)
    reply.refresh_from_db()
    assert reply.status == "error" and reply.content == "partial"
    assert "stopped unexpectedly" in reply.error


def test_a_live_worker_is_left_alone(alice):
    conversation = Conversation.objects.create(owner=alice)
    reply = Message.objects.append(
        conversation=conversation,
        role="assistant",
        status="streaming",
        started_at=timezone.now() - timedelta(minutes=2),
    )
    live.sync_redis().set(live.lease_key(reply.pk), 1, ex=10)
    assert not lifecycle.reap_if_orphaned(reply)
    reply.refresh_from_db()
    assert reply.status == "streaming"


def test_an_answer_whose_lease_redis_evicted_is_left_alone_while_its_worker_saves_progress(alice):
    # Redis under allkeys-lru may evict a lease between two renewals; the database's
    # sign of life (written with every save and heartbeat) keeps the answer going.
    conversation = Conversation.objects.create(owner=alice)
    reply = Message.objects.create(
        conversation=conversation,
        role="assistant",
        status="streaming",
        started_at=timezone.now() - timedelta(minutes=2),
    )
    assert lifecycle.save_progress([lifecycle.Progress(reply.pk, None, 0)]) == set()
    reply.refresh_from_db()
    assert not live.lease_held(reply.pk)
    assert not lifecycle.reap_if_orphaned(reply)
    assert lifecycle.reap()["ended_orphans"] == 0
    reply.refresh_from_db()
    assert reply.status == "streaming"

    # Once neither the lease nor the database has heard of its worker for a lease's length, it ends.
    Message.objects.filter(pk=reply.pk).update(alive_at=timezone.now() - timedelta(minutes=1))
    assert lifecycle.reap()["ended_orphans"] == 1
    reply.refresh_from_db()
    assert (reply.status, reply.error_code) == ("error", "worker_lost")


def answer(conversation, **fields):
    return Message.objects.append(conversation=conversation, role="assistant", **fields)


def test_the_reaper_ends_an_orphan_with_the_text_its_log_holds(alice):
    conversation = Conversation.objects.create(owner=alice)
    Message.objects.append(conversation=conversation, role="user", content="hi")
    reply = answer(
        conversation, status="streaming", content="Hel", seq=1, started_at=timezone.now() - timedelta(minutes=1)
    )
    pipe = live.sync_redis().pipeline()
    live.append_chunk(pipe, reply.pk, reply.attempt, 1, "Hel", first=True)
    live.append_chunk(pipe, reply.pk, reply.attempt, 2, "lo there", first=False)
    pipe.execute()

    assert lifecycle.reap()["ended_orphans"] == 1
    reply.refresh_from_db()
    assert (reply.status, reply.error_code) == ("error", "worker_lost")
    assert (reply.content, reply.seq) == ("Hello there", 2)  # the unsaved second is not lost
    assert lifecycle.reap()["ended_orphans"] == 0  # a second reaper finds nothing


def test_the_reaper_resends_an_answer_whose_task_was_lost_and_a_worker_writes_it(
    alice, worker, model_service, no_worker, monkeypatch
):
    # The task is lost: no_worker holds it back.
    reply = actions.send_message(alice, "Say hello.").reply
    Message.objects.filter(pk=reply.pk).update(queued_at=timezone.now() - timedelta(minutes=1))
    monkeypatch.undo()  # tasks reach the worker again

    assert lifecycle.reap()["resent"] == 1
    assert lifecycle.reap()["resent"] == 0  # not twice in a row
    deadline = timezone.now() + timedelta(seconds=60)
    while reply.status != "done" and timezone.now() < deadline:
        time.sleep(0.2)
        reply.refresh_from_db()
    assert reply.status == "done" and reply.content


def test_the_reaper_gives_up_on_an_answer_no_worker_took(alice, monkeypatch):
    monkeypatch.setattr(lifecycle, "queue", lambda reply: None)
    conversation = Conversation.objects.create(owner=alice)
    reply = answer(conversation, status="queued", queued_at=timezone.now() - timedelta(hours=1))

    assert lifecycle.reap()["gave_up"] == 1
    reply.refresh_from_db()
    assert (reply.status, reply.error_code) == ("error", "not_started")
    assert "Retry" not in reply.error and next_step(reply) == "Press Retry; if nothing starts, tell an administrator."
