"""Every staff read of a conversation, on its page or in an export, leaves an audit entry."""

import pytest
from django.utils import timezone

from chatapp.review import actions
from chatapp.review.models import AuditEntry
from tests.support.conversations import converse

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversations(alice, bob):
    return [converse(alice, [("Hi", "Hello!")], title="Alice says hi"), converse(bob, [("Yo", "Hey.")], title="Bob")]


def test_opening_a_conversation_records_who_what_and_when(reviewer_client, reviewer, conversations):
    conversation = conversations[0]
    before = timezone.now()
    reviewer_client.get(f"/admin/chat/conversation/{conversation.pk}/change/")
    entry = AuditEntry.objects.get()
    assert (entry.user, entry.username, entry.action) == (reviewer, "rita", "view")
    assert (entry.content_type.model, entry.object_id, entry.object_repr) == (
        "conversation",
        str(conversation.pk),
        "Alice says hi",
    )
    assert before <= entry.created_at <= timezone.now()


def test_listing_conversations_is_not_an_opening(reviewer_client, conversations):
    reviewer_client.get("/admin/chat/conversation/")
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("action", ["export_jsonl", "export_csv"])
def test_an_export_records_one_entry_per_conversation(reviewer_client, reviewer, conversations, action):
    response = reviewer_client.post(
        "/admin/chat/conversation/", {"action": action, "_selected_action": [c.pk for c in conversations]}
    )
    b"".join(response.streaming_content)
    entries = AuditEntry.objects.order_by("object_id")
    assert [(e.username, e.action, e.object_id) for e in entries] == [
        ("rita", "export", str(c.pk)) for c in sorted(conversations, key=lambda c: c.pk)
    ]
    assert {e.detail["format"] for e in entries} == {action.removeprefix("export_")}


def test_the_audit_log_is_listed_for_superusers(root_client, reviewer_client, conversations):
    reviewer_client.get(f"/admin/chat/conversation/{conversations[1].pk}/change/")
    page = root_client.get("/admin/review/auditentry/").content.decode()
    assert "rita" in page and "Bob" in page and "Viewed" in page


def test_opening_a_single_message_or_feedback_is_recorded_too(reviewer_client, alice, conversations):
    answer = conversations[0].messages.get(role="assistant")
    feedback = actions.give_feedback(alice, answer.pk, "down", "Rude")
    reviewer_client.get(f"/admin/chat/message/{answer.pk}/change/")
    reviewer_client.get(f"/admin/review/feedback/{feedback.pk}/change/")
    assert [(e.content_type.model, e.object_id) for e in AuditEntry.objects.order_by("id")] == [
        ("message", str(answer.pk)),
        ("feedback", str(feedback.pk)),
    ]
