"""Processing in the worker's shoes: claims, failures with reasons, replacing passages."""

from datetime import timedelta

import pytest
from django.utils import timezone

from chatapp.documents import actions
from chatapp.documents.models import Document

pytestmark = pytest.mark.django_db


def added(data, name):
    result = actions.add_file(data, name, queue=False)
    return result.document


def test_a_document_is_read_into_passages_with_anchors_unique_in_it(handbook_pdf):
    document = actions.process(added(handbook_pdf, "handbook.pdf").pk)

    assert document.status == Document.Status.READY
    assert document.title == "Driver handbook"
    anchors = list(document.passages.values_list("anchor", flat=True))
    assert len(anchors) == len(set(anchors))
    assert "2-3-rest-periods" in anchors


def test_a_document_another_worker_is_reading_is_left_to_it(handbook_pdf):
    document = added(handbook_pdf, "handbook.pdf")
    Document.objects.filter(pk=document.pk).update(status=Document.Status.PROCESSING, updated_at=timezone.now())

    actions.process(document.pk)

    assert not document.passages.exists()


def test_a_document_whose_worker_was_lost_is_claimed_again(handbook_pdf):
    document = added(handbook_pdf, "handbook.pdf")
    long_ago = timezone.now() - timedelta(hours=1)
    Document.objects.filter(pk=document.pk).update(status=Document.Status.PROCESSING, updated_at=long_ago)

    assert actions.process(document.pk).status == Document.Status.READY


def test_a_failed_document_keeps_its_reason_and_a_fixed_file_replaces_it(handbook_pdf):
    broken = actions.process(added(b"%PDF-1.4 nothing here", "handbook.pdf").pk)
    assert broken.status == Document.Status.FAILED
    assert "damaged" in broken.error

    fixed = actions.add_file(handbook_pdf, "handbook.pdf", queue=False)
    document = actions.process(fixed.document.pk)

    assert fixed.outcome == actions.Outcome.UPDATED
    assert document.pk == broken.pk
    assert document.status == Document.Status.READY and document.error == ""


def test_processing_again_replaces_the_passages_and_signals_them(handbook_pdf):
    from chatapp.documents.signals import passages_saved

    received = []

    def receiver(sender, document, **kwargs):
        received.append(document.passages.count())

    passages_saved.connect(receiver)
    try:
        document = actions.process(added(handbook_pdf, "handbook.pdf").pk)
        count = document.passages.count()
        actions.reprocess(document)
        actions.process(document.pk)
    finally:
        passages_saved.disconnect(receiver)

    assert document.passages.count() == count
    assert received == [count, count]


def test_past_the_reading_slots_a_document_waits_in_the_queue_not_in_a_thread(handbook_pdf):
    document = added(handbook_pdf, "handbook.pdf")
    taken = []
    while actions.reading_slots.acquire(blocking=False):
        taken.append(True)
    try:
        assert actions.process_if_free(document.pk) is False
        document.refresh_from_db()
        assert document.status == Document.Status.QUEUED
    finally:
        for _ in taken:
            actions.reading_slots.release()

    assert actions.process_if_free(document.pk) is True
    document.refresh_from_db()
    assert document.status == Document.Status.READY
