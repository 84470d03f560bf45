import time

import pytest

from chatapp.chat import actions
from chatapp.chat.errors import ChatError
from chatapp.chat.models import Conversation, Message

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def no_worker(no_worker):
    """These tests are about the sidebar, not answers: they stay queued."""


def test_sidebar_lists_conversations_newest_first_titled_by_their_first_message(alice_client, alice, no_worker):
    actions.send_message(alice, "How do I deploy on Fridays?")
    actions.send_message(alice, "What is the VPN address?\nIt changed.")
    page = alice_client.get("/").content.decode()
    assert page.index("What is the VPN address?") < page.index("How do I deploy on Fridays?")


@pytest.mark.parametrize(
    ("question", "title"),
    [
        ("How do I deploy on Fridays?", "How do I deploy on Fridays?"),
        (
            "Can you please summarise this CSV of salaries by department and tell me which team earns the most?",
            "Summarise CSV salaries department tell team",
        ),
        (
            "Hi! Could you help me to write a polite email to our landlord about the broken heating in the office?",
            "Write polite email landlord broken heating",
        ),
        ("What is the VPN address?\nIt changed on Monday.", "What is the VPN address?"),
    ],
)
def test_new_conversations_get_short_titles_from_the_questions_key_words(alice, no_worker, question, title):
    conversation = actions.send_message(alice, question).conversation
    assert conversation.title == title and len(conversation.title) <= 48


def test_rename_changes_the_title(alice_client, alice, no_worker):
    conversation = actions.send_message(alice, "hello").conversation
    response = alice_client.post(f"/c/{conversation.pk}/rename/", {"title": "  Release   plan "})
    assert response.status_code == 302
    conversation.refresh_from_db()
    assert conversation.title == "Release plan"
    assert "Release plan" in alice_client.get("/").content.decode()


def test_delete_removes_the_conversation_and_its_messages(alice_client, alice, no_worker):
    conversation = actions.send_message(alice, "hello").conversation
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


def test_a_new_question_waits_while_an_answer_is_being_written(alice, no_worker):
    conversation = actions.send_message(alice, "first").conversation
    with pytest.raises(ChatError, match="still being written"):
        actions.send_message(alice, "second", conversation_id=conversation.pk)


def test_a_capable_model_titles_the_conversation_after_its_first_answer_unless_renamed(
    alice, worker, settings, scripted_engine
):
    from tests.support.conversations import wait_until_finished

    settings.INFERENCE_MODEL = "capable-model"
    settings.TITLE_MODELS = ["capable-model"]
    question = "Can you please summarise this CSV of salaries by department and tell me which team earns the most?"
    # The worker runs in this process: it reads the engine's address the fixture sets.
    scripted_engine(answer="Engineering earns the most.", title='"Salaries by department."')
    sent = actions.send_message(alice, question)
    conversation, reply = sent.conversation, sent.reply
    wait_until_finished(reply, timeout=60)
    deadline = time.monotonic() + 20
    while (
        Conversation.objects.get(pk=conversation.pk).title != "Salaries by department" and time.monotonic() < deadline
    ):
        time.sleep(0.2)
    assert Conversation.objects.get(pk=conversation.pk).title == "Salaries by department"

    sent = actions.send_message(alice, "Plan the offsite agenda for the whole team next month")
    renamed, reply = sent.conversation, sent.reply
    actions.rename_conversation(alice, renamed.pk, "Offsite")
    wait_until_finished(reply, timeout=60)
    time.sleep(1)
    assert Conversation.objects.get(pk=renamed.pk).title == "Offsite"


@pytest.mark.parametrize(
    ("engine", "priority"),
    [
        ({"loading": True}, 0),  # a 503 while the model loads
        ({"scheduling_policy": "fcfs"}, 10),  # a 400: a priority the engine does not schedule by
    ],
    ids=["model loading", "priority refused"],
)
def test_a_title_the_model_cannot_give_leaves_the_key_word_title(
    alice, no_worker, vllm_stand_in, settings, engine, priority
):
    from chatapp.chat.naming import wants_title
    from chatapp.chat.tasks import title_conversation

    settings.TITLE_MODELS = [vllm_stand_in.model]
    settings.INFERENCE_TITLE_PRIORITY = priority
    vllm_stand_in.configure(**engine)
    sent = actions.send_message(alice, "How do I reset my password?")
    sent.reply.claim()
    sent.reply.finish(Message.Status.DONE, content="Use the self-service page.")

    assert wants_title(sent.reply)  # the model is asked, and fails

    title_conversation(sent.reply.pk)

    assert Conversation.objects.get(pk=sent.conversation.pk).title == "How do I reset my password?"
