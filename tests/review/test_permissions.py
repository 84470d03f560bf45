"""Who may do what in the admin: reviewers read, record verdicts and run the FAQ loop, only superusers edit conversations."""

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group

from chatapp.chat import live
from chatapp.chat.models import Message
from chatapp.review.models import AuditEntry
from chatapp.review.roles import REVIEWER_PERMISSIONS
from tests.support.accounts import signed_in
from tests.support.conversations import answer_of, awaited_answer, converse
from tests.support.websocket import receive_until

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(alice):
    return converse(alice, [("How do I deploy?", "Run `make deploy`.")], title="Deploying")


def change_url(obj):
    return f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/{obj.pk}/change/"


def test_the_reviewer_group_has_exactly_the_reviewing_permissions():
    codenames = set(Group.objects.get(name="Reviewer").permissions.values_list("content_type__app_label", "codename"))
    assert codenames == {
        ("chat", "view_conversation"),
        ("chat", "view_message"),
        ("review", "view_feedback"),
        ("review", "view_metrics"),
        ("review", "view_conversationreview"),
        ("review", "change_conversationreview"),
        ("review", "export_conversations"),
        ("review", "promote_to_faq"),
        ("faq", "view_faqentry"),
        ("faq", "add_faqentry"),
        ("faq", "change_faqentry"),
        ("faq", "publish_faqentry"),
        ("faq", "view_unansweredquestion"),
        ("faq", "change_unansweredquestion"),
    }
    assert codenames == set(REVIEWER_PERMISSIONS)  # what the tests' reviewer_group() rebuilds


@pytest.mark.parametrize("path", ["/admin/", "/admin/chat/conversation/", "/admin/review/metrics/"])
def test_anonymous_visitor_is_sent_to_the_admin_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302 and response.url.startswith("/admin/login/")


def test_ordinary_user_has_no_admin(alice_client, conversation):
    for path in ["/admin/chat/conversation/", change_url(conversation), "/admin/review/metrics/"]:
        response = alice_client.get(path)
        assert response.status_code == 302 and response.url.startswith("/admin/login/"), path
    assert not AuditEntry.objects.exists()


def test_staff_without_the_reviewer_group_cannot_read_conversations(client, bob, conversation):
    bob.is_staff = True
    bob.save()
    client.force_login(bob)
    assert client.get("/admin/chat/conversation/").status_code == 403
    assert client.get(change_url(conversation)).status_code == 403
    assert client.get("/admin/review/metrics/").status_code == 403


def test_reviewer_reads_the_list_the_conversation_and_the_metrics(reviewer_client, conversation):
    assert "Deploying" in reviewer_client.get("/admin/chat/conversation/").content.decode()
    page = reviewer_client.get(change_url(conversation)).content.decode()
    assert "Run <code>make deploy</code>." in page
    assert reviewer_client.get("/admin/review/metrics/").status_code == 200


def test_reviewer_cannot_edit_a_message(reviewer_client, conversation):
    answer = answer_of(conversation)
    response = reviewer_client.post(
        change_url(answer),
        {"conversation": conversation.pk, "role": "assistant", "content": "Edited!", "status": "done"},
    )
    assert response.status_code == 403
    answer.refresh_from_db()
    assert answer.content == "Run `make deploy`."


def test_reviewer_cannot_edit_or_delete_a_conversation(reviewer_client, conversation):
    assert reviewer_client.post(change_url(conversation), {"title": "Renamed", "source": "web"}).status_code == 403
    delete = f"/admin/chat/conversation/{conversation.pk}/delete/"
    assert reviewer_client.post(delete, {"post": "yes"}).status_code == 403
    response = reviewer_client.post(
        "/admin/chat/conversation/",
        {"action": "delete_selected", "_selected_action": [conversation.pk], "post": "yes"},
        follow=True,
    )
    conversation.refresh_from_db()
    assert conversation.title == "Deploying"
    # The admin offers reviewers no delete action: it says so, back on the list.
    assert [str(message) for message in response.context["messages"]] == ["No action selected."]


def test_reviewer_sees_no_editing_controls(reviewer_client, conversation):
    page = reviewer_client.get(change_url(conversation)).content.decode()
    assert 'name="_save"' not in page
    assert "deletelink" not in page
    assert "Save verdict" in page


def test_reviewer_cannot_read_the_audit_log(reviewer_client):
    assert reviewer_client.get("/admin/review/auditentry/").status_code == 403


def test_superuser_can_edit_a_message(root_client, conversation):
    answer = answer_of(conversation)
    response = root_client.post(
        change_url(answer),
        {
            "conversation": conversation.pk,
            "role": "assistant",
            "content": "Corrected.",
            "status": "done",
            "error": "",
            "model": "m",
            "sources": "[]",
            "created_at_0": "2026-01-01",
            "created_at_1": "10:00:00",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Message.objects.get(pk=answer.pk).content == "Corrected."


def test_nobody_edits_or_deletes_audit_entries(root_client, conversation):
    root_client.get(change_url(conversation))
    entry = AuditEntry.objects.get()
    assert root_client.get("/admin/review/auditentry/add/").status_code == 403
    assert root_client.post(change_url(entry), {"action": "export"}).status_code == 403
    assert root_client.post(f"/admin/review/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.get().action == "view"


@pytest.mark.django_db(transaction=True)
async def test_a_superuser_deleting_in_the_admin_closes_open_pages_and_stops_the_answer(admin, alice, socket_for):
    conversation = await sync_to_async(converse)(alice, [("Still writing?", None)], title="Doomed")
    writing = await sync_to_async(awaited_answer)(conversation, status=Message.Status.STREAMING)
    socket = await socket_for(alice)

    def delete_in_the_admin():
        return signed_in(admin).post(f"/admin/chat/conversation/{conversation.pk}/delete/", {"post": "yes"})

    response = await sync_to_async(delete_in_the_admin)()

    assert response.status_code == 302
    frames = await receive_until(socket, lambda frame: frame.get("type") == "conversation", timeout=10)
    assert frames[-1]["conversation"] == {**frames[-1]["conversation"], "id": conversation.pk, "deleted": True}
    # The worker holding the answer reads this flag and stops generating.
    assert live.sync_redis().exists(live.stop_key(writing.pk))
