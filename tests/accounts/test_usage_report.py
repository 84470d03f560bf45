"""The admin's report of who used the bot when."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from chatapp.chat.models import Conversation, Message

pytestmark = pytest.mark.django_db


def ask(user, days_ago, questions=1):
    when = timezone.now() - timedelta(days=days_ago)
    conversation = Conversation.objects.create(owner=user, title="Q", created_at=when, updated_at=when)
    for _ in range(questions):
        Message.objects.append(conversation=conversation, role=Message.Role.USER, content="Hi?", created_at=when)
        Message.objects.append(
            conversation=conversation, role=Message.Role.ASSISTANT, content="Hello.", created_at=when
        )


def rows(response):
    report = response.context["cl"].result_list
    return {
        user.username: (user.conversations_in_period, user.messages_in_period, user.last_active is not None)
        for user in report
    }


def test_the_report_counts_each_users_conversations_and_questions_in_the_period(alice, bob, admin):
    ask(alice, days_ago=1, questions=3)
    ask(alice, days_ago=2)
    ask(bob, days_ago=40, questions=2)
    root = Client()
    root.force_login(admin)

    month = root.get("/admin/accounts/usage/")
    assert month.status_code == 200
    assert rows(month) == {"alice": (2, 4, True), "bob": (0, 0, True), "root": (0, 0, False)}
    assert [user.username for user in month.context["cl"].result_list] == ["alice", "bob", "root"]

    quarter = root.get("/admin/accounts/usage/?period=90")
    assert rows(quarter)["bob"] == (1, 2, True)
    assert "Last 90 days" in quarter.content.decode()


def test_a_user_without_the_permission_does_not_see_the_report(alice, django_user_model):
    staff = django_user_model.objects.create_user(username="sam", password="x", is_staff=True)
    client = Client()
    client.force_login(staff)
    assert client.get("/admin/accounts/usage/").status_code == 403
    client.force_login(alice)
    assert client.get("/admin/accounts/usage/").status_code == 302


def test_the_report_counts_tokens_from_the_ledger_even_of_deleted_conversations(alice, admin):
    from chatapp.chat.actions import delete_conversation
    from chatapp.chat.models import TokenUse

    ask(alice, days_ago=1)
    conversation = Conversation.objects.get(owner=alice)
    TokenUse.objects.create(
        user=alice, answer_id=conversation.messages.last().pk, prompt_tokens=300, completion_tokens=45
    )
    delete_conversation(alice, conversation.pk)
    root = Client()
    root.force_login(admin)
    report = {
        user.username: user.tokens_in_period for user in root.get("/admin/accounts/usage/").context["cl"].result_list
    }
    assert report == {"alice": 345, "root": 0}
