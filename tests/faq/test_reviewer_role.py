"""A member of the Reviewer group alone finishes the FAQ loop: drafts, publishing, unanswered questions."""

import io
import logging

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from chatapp.faq.models import FAQEntry, UnansweredQuestion
from chatapp.ops.logfilters import ForbiddenWithoutTraceback
from chatapp.review import actions as review_actions
from chatapp.review.roles import reviewer_group
from tests.support.conversations import answer_of, converse

pytestmark = pytest.mark.django_db

GROUPED = "/admin/faq/unansweredquestion/"


@pytest.fixture
def reviewer_client(client, reviewer):
    client.force_login(reviewer)
    return client


def test_a_reviewer_turns_unanswered_questions_into_a_draft_edits_and_publishes_it(reviewer_client, alice):
    UnansweredQuestion.objects.create(question="How do I book a meeting room?", asked_by=alice)
    UnansweredQuestion.objects.create(question="Where do I book meeting rooms?", asked_by=alice)
    page = reviewer_client.get(GROUPED)
    assert page.status_code == 200 and "Create FAQ entry" in page.content.decode()

    ids = list(UnansweredQuestion.objects.values_list("id", flat=True))
    response = reviewer_client.post(reverse("admin:faq_unansweredquestion_act"), {"ids": ids, "action": "create"})
    entry = FAQEntry.objects.get()
    assert response.url == reverse("admin:faq_faqentry_change", args=[entry.pk])
    assert reviewer_client.get(response.url).status_code == 200
    assert "How do I book" not in reviewer_client.get(GROUPED).content.decode()  # handled: off the list

    form = {
        "question": entry.question,
        "key": entry.key,
        "status": "published",
        "answer": "Book it in the calendar under Rooms.",
        "phrasings": entry.phrasings,
        "tags": "",
    }
    assert reviewer_client.post(reverse("admin:faq_faqentry_change", args=[entry.pk]), form).status_code == 302
    entry.refresh_from_db()
    assert (entry.answer, entry.status) == ("Book it in the calendar under Rooms.", FAQEntry.Status.PUBLISHED)


def test_without_the_publish_permission_a_reviewer_writes_drafts_but_cannot_publish(reviewer_client, alice):
    reviewer_group().permissions.remove(Permission.objects.get(codename="publish_faqentry"))
    entry = FAQEntry.objects.create(question="Who orders the coffee?", answer="Sam.", status=FAQEntry.Status.DRAFT)
    change = reverse("admin:faq_faqentry_change", args=[entry.pk])
    page = reviewer_client.get(change).content.decode()
    assert 'name="status"' not in page  # shown, not editable
    form = {"question": entry.question, "key": entry.key, "status": "published", "answer": "Sam, on Mondays."}
    assert reviewer_client.post(change, form).status_code == 302
    entry.refresh_from_db()
    assert (entry.answer, entry.status) == ("Sam, on Mondays.", FAQEntry.Status.DRAFT)
    listing = reviewer_client.get("/admin/faq/faqentry/").content.decode()
    assert "Publish selected entries" not in listing


def test_promoting_an_answer_takes_its_unanswered_question_off_the_list(reviewer, reviewer_client, alice):
    conversation = converse(alice, [("Can I work from Lisbon for a month?", "Not covered.")])
    answer = answer_of(conversation)
    UnansweredQuestion.objects.create(
        question="Can I work from Lisbon for a month?", asked_by=alice, conversation=conversation, message=answer
    )
    assert "Lisbon" in reviewer_client.get(GROUPED).content.decode()
    review_actions.promote_to_faq(reviewer, answer, "Can I work from abroad?", "Up to four weeks a year.")
    assert "Lisbon" not in reviewer_client.get(GROUPED).content.decode()
    assert UnansweredQuestion.objects.get().entry == FAQEntry.objects.get()


def test_a_refused_permission_is_a_403_page_logged_in_one_line(client, bob):
    bob.is_staff = True
    bob.save()
    client.force_login(bob)
    console = next(
        handler
        for handler in logging.getLogger().handlers
        if any(isinstance(item, ForbiddenWithoutTraceback) for item in handler.filters)
    )
    terminal = io.StringIO()
    previous = console.setStream(terminal)
    try:
        response = client.get(GROUPED)
    finally:
        console.setStream(previous)
    assert response.status_code == 403
    page = response.content.decode()
    assert "Not allowed" in page and "Reviewer group" in page
    printed = terminal.getvalue()
    assert "Forbidden (Permission denied): /admin/faq/unansweredquestion/" in printed
    assert "Traceback" not in printed and len(printed.strip().splitlines()) == 1
