"""Retention: old conversations go, with their image files; newer ones are never touched."""

from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from django.core.management.base import CommandError

from chatapp.chat import live
from chatapp.chat.models import Conversation, Message
from chatapp.images.models import StoredImage
from chatapp.review import tasks
from chatapp.review.actions import purge_conversations
from chatapp.review.models import AuditEntry, Feedback
from tests.support.conversations import answer_of, awaited_answer, converse, question_of
from tests.support.pictures import attach_image
from tests.support.websocket import receive_until


@pytest.fixture
def old_and_new(alice, bob):
    old = converse(alice, [("Old question", "Old answer")], title="Old", age=timedelta(days=40))
    old_image = attach_image(question_of(old), "blue")
    Feedback.objects.create(message=answer_of(old), user=alice, vote="down")
    new = converse(bob, [("New question", "New answer")], title="New", age=timedelta(days=5))
    new_image = attach_image(question_of(new), "green")
    return old, new, old_image, new_image


def purge(*args):
    out = StringIO()
    call_command("purge_conversations", *args, stdout=out)
    return out.getvalue()


def files_of(attachment):
    stored = attachment.image
    return [stored.file.path, stored.thumbnail.path]


@pytest.mark.django_db
def test_a_dry_run_lists_what_would_go_and_deletes_nothing(old_and_new):
    output = purge("--older-than", "30")
    assert "Would delete 1 conversation(s) (2 message(s))" in output
    assert "Old" in output and "New" not in output
    assert Conversation.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_purge_deletes_old_rows_and_files_and_keeps_newer_ones(old_and_new):
    old, new, old_image, new_image = old_and_new
    old_files, new_files = files_of(old_image), files_of(new_image)
    assert all(Path(path).exists() for path in old_files + new_files)

    assert "Deleted 1 conversation(s)" in purge("--older-than", "30", "--yes")

    assert list(Conversation.objects.values_list("title", flat=True)) == ["New"]
    assert not Message.objects.filter(conversation_id=old.pk).exists()
    assert not Feedback.objects.exists()
    assert not StoredImage.objects.filter(pk=old_image.image_id).exists()
    assert not any(Path(path).exists() for path in old_files)
    assert all(Path(path).exists() for path in new_files)
    assert new.messages.count() == 2
    assert AuditEntry.objects.get().detail == {"older_than_days": 30, "conversations": 1}


@pytest.mark.django_db(transaction=True)
def test_an_image_shared_with_a_newer_conversation_keeps_its_file(alice, old_and_new):
    old, new, old_image, new_image = old_and_new
    same_bytes = attach_image(question_of(new), "blue")  # stored once, used twice
    assert same_bytes.image_id == old_image.image_id
    purge("--older-than", "30", "--yes")
    assert all(Path(path).exists() for path in files_of(same_bytes))


@pytest.mark.django_db
def test_older_than_must_be_at_least_a_day(old_and_new):
    with pytest.raises(CommandError):
        purge("--older-than", "0", "--yes")
    assert Conversation.objects.count() == 2


@pytest.mark.django_db
def test_the_periodic_job_is_off_by_default_and_purges_when_set(settings, old_and_new):
    assert settings.PURGE_CONVERSATIONS_AFTER_DAYS == 0
    assert tasks.purge_old_conversations() == 0
    assert Conversation.objects.count() == 2
    settings.PURGE_CONVERSATIONS_AFTER_DAYS = 30
    assert tasks.purge_old_conversations() == 1
    assert list(Conversation.objects.values_list("title", flat=True)) == ["New"]


@pytest.mark.django_db(transaction=True)
async def test_a_purge_closes_the_conversation_on_open_pages_and_stops_its_answer(alice, socket_for):
    old = await sync_to_async(converse)(alice, [("Old question", None)], title="Old", age=timedelta(days=40))
    writing = await sync_to_async(awaited_answer)(old, status=Message.Status.STREAMING)
    socket = await socket_for(alice)

    assert await sync_to_async(purge_conversations)(30) == 1

    frames = await receive_until(socket, lambda frame: frame.get("type") == "conversation", timeout=10)
    assert frames[-1]["conversation"] == {**frames[-1]["conversation"], "id": old.pk, "deleted": True}
    # The worker holding the answer reads this flag and stops generating.
    assert live.sync_redis().exists(live.stop_key(writing.pk))
