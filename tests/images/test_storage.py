"""Files on disk: stored once per content, removed when nothing refers to them."""

import contextlib
import io
import random
import resource
import signal
from datetime import timedelta

import pytest
from django.utils import timezone
from PIL import Image

from chatapp.chat import actions
from chatapp.images.actions import attacher_for, delete_unreferenced_images, discard_stale_uploads
from chatapp.images.models import Attachment, StoredImage
from tests.support.pictures import picture, stored_files, upload, uploaded_id

pytestmark = pytest.mark.django_db


def send_with_images(user, *attachment_ids, text="Look at this."):
    sent = actions.send_message(user, text, attach=attacher_for(user, list(attachment_ids)))
    conversation, question = sent.conversation, sent.question
    return conversation, question


def test_the_same_bytes_uploaded_twice_are_stored_once(alice_client, client, bob, media_root):
    data = picture("PNG", color=(1, 2, 3))
    first = uploaded_id(alice_client, data, "one.png")
    client.force_login(bob)
    second = uploaded_id(client, data, "two.png")
    assert first != second
    assert StoredImage.objects.count() == 1
    assert Attachment.objects.get(pk=first).image_id == Attachment.objects.get(pk=second).image_id
    assert len(stored_files(media_root)) == 2  # one image, one thumbnail


def test_deleting_a_conversation_removes_its_images_files(
    alice, alice_client, media_root, django_capture_on_commit_callbacks
):
    image = uploaded_id(alice_client, picture(color=(9, 9, 9)))
    conversation, _question = send_with_images(alice, image)
    assert len(stored_files(media_root)) == 2
    with django_capture_on_commit_callbacks(execute=True):
        actions.delete_conversation(alice, conversation.pk)
    assert not Attachment.objects.exists()
    assert not StoredImage.objects.exists()
    assert stored_files(media_root) == []


def test_a_file_shared_with_another_conversation_stays(
    alice, alice_client, media_root, django_capture_on_commit_callbacks
):
    data = picture(color=(7, 7, 7))
    kept, _question = send_with_images(alice, uploaded_id(alice_client, data))
    deleted, _question = send_with_images(alice, uploaded_id(alice_client, data))
    with django_capture_on_commit_callbacks(execute=True):
        actions.delete_conversation(alice, deleted.pk)
    assert Attachment.objects.get().message.conversation == kept
    assert len(stored_files(media_root)) == 2
    assert alice_client.get(Attachment.objects.get().url).status_code == 200


def test_images_uploaded_but_never_sent_are_discarded_a_day_later(
    alice, alice_client, media_root, django_capture_on_commit_callbacks
):
    stale = uploaded_id(alice_client, picture(color=(3, 3, 3)))
    Attachment.objects.filter(pk=stale).update(created_at=timezone.now() - timedelta(days=2))
    with django_capture_on_commit_callbacks(execute=True):
        fresh = uploaded_id(alice_client, picture(color=(4, 4, 4)))  # the next upload clears them
    assert list(Attachment.objects.values_list("pk", flat=True)) == [fresh]
    assert len(stored_files(media_root)) == 2
    assert discard_stale_uploads() == 0


def test_a_sweep_removes_only_unreferenced_images(alice_client, media_root, django_capture_on_commit_callbacks):
    used = uploaded_id(alice_client, picture(color=(5, 5, 5)))
    orphaned = uploaded_id(alice_client, picture(color=(6, 6, 6)))
    # Deleted without its clean-up running (as after a crash): the file stays behind.
    Attachment.objects.filter(pk=orphaned).delete()
    assert len(stored_files(media_root)) == 4
    with django_capture_on_commit_callbacks(execute=True):
        assert delete_unreferenced_images() == 1
    assert StoredImage.objects.get() == Attachment.objects.get(pk=used).image
    assert len(stored_files(media_root)) == 2


@contextlib.contextmanager
def disk_full_after(limit_bytes):
    """Writes past `limit_bytes` fail with an OSError (RLIMIT_FSIZE), as on a disk that fills up mid-file."""
    previous = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails instead of killing the process
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, previous[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, previous)
        signal.signal(signal.SIGXFSZ, handler)


def test_an_upload_to_a_full_media_storage_gets_a_clear_error_and_leaves_no_partial_file(alice_client, media_root):
    data = noisy_picture()
    assert len(data) > 40_000
    uploaded_id(alice_client, picture(color=(4, 5, 6)))  # the folders exist, one image is stored
    before = stored_files(media_root)

    with disk_full_after(20_000):
        response = upload(alice_client, data, "big.png")

    assert response.status_code == 507
    assert "no room to store images" in response.json()["error"]
    assert stored_files(media_root) == before
    assert StoredImage.objects.count() == 1 and Attachment.objects.count() == 1
    # Room again: the same upload is stored.
    assert upload(alice_client, data, "big.png").status_code == 201


def noisy_picture():
    """A PNG that does not compress: random pixels."""
    image = Image.frombytes("RGB", (160, 160), random.Random(7).randbytes(160 * 160 * 3))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()
