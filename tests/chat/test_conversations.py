import pytest

from chatapp.chat import actions
from chatapp.chat.models import Conversation, Message

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def quiet_queue(no_worker):
    """These tests are about the sidebar, not answers: they stay queued."""


def test_sidebar_lists_conversations_newest_first_titled_by_their_first_message(alice_client, alice, quiet_queue):
    actions.send_message(alice, "How do I deploy on Fridays?")
    actions.send_message(alice, "What is the VPN address?\nIt changed.")
    page = alice_client.get("/").content.decode()
    assert page.index("What is the VPN address? It changed.") < page.index("How do I deploy on Fridays?")


def test_long_first_messages_make_short_titles(alice, quiet_queue):
    conversation, *_ = actions.send_message(alice, "word " * 100)
    assert len(conversation.title) <= 80 and conversation.title.endswith("…")


def test_rename_changes_the_title(alice_client, alice, quiet_queue):
    conversation, *_ = actions.send_message(alice, "hello")
    response = alice_client.post(f"/c/{conversation.pk}/rename/", {"title": "  Release   plan "})
    assert response.status_code == 302
    conversation.refresh_from_db()
    assert conversation.title == "Release plan"
    assert "Release plan" in alice_client.get("/").content.decode()


def test_delete_removes_the_conversation_and_its_messages(alice_client, alice, quiet_queue):
    conversation, *_ = actions.send_message(alice, "hello")
    response = alice_client.post(f"/c/{conversation.pk}/delete/")
    assert response.status_code == 302 and response.url == "/"
    assert not Conversation.objects.filter(pk=conversation.pk).exists()
    assert not Message.objects.filter(conversation_id=conversation.pk).exists()
    assert alice_client.get(f"/c/{conversation.pk}/").status_code == 404


def test_the_user_message_and_a_queued_answer_exist_before_the_task_is_queued(alice, monkeypatch):
    from chatapp.celery import app

    seen = []

    def record(name, args=(), *rest, **options):
        reply = Message.objects.get(pk=args[0])
        seen.append(list(Message.objects.filter(conversation=reply.conversation).values_list("role", "status")))

    monkeypatch.setattr(app, "send_task", record)
    actions.send_message(alice, "hello")
    assert seen == [[("user", "done"), ("assistant", "queued")]]


def test_a_new_question_waits_while_an_answer_is_being_written(alice, quiet_queue):
    conversation, *_ = actions.send_message(alice, "first")
    with pytest.raises(actions.ChatError, match="still being written"):
        actions.send_message(alice, "second", conversation_id=conversation.pk)
