"""Bots limited to groups: only their members see or use them, everywhere; others get "not found"."""

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group

from chatapp.chat import actions
from chatapp.chat.errors import NotFound
from chatapp.chat.models import Bot, Conversation, Message
from tests.support.websocket import receive_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def engineering(alice):
    group = Group.objects.create(name="Engineering")
    alice.groups.add(group)
    return group


@pytest.fixture
def runbook_bot(engineering):
    Bot.objects.get_or_create(slug="assistant", defaults={"name": "Assistant", "is_default": True})
    bot = Bot.objects.create(name="On-call runbook", slug="runbook", position=5)
    bot.groups.add(engineering)
    return bot


def picker_options(client):
    response = client.get("/")
    assert response.status_code == 200
    return [bot.slug for bot in response.context["bots"]]


def test_a_bot_limited_to_a_group_is_offered_only_to_its_members(client, alice, bob, admin, runbook_bot):
    client.force_login(alice)
    assert "runbook" in picker_options(client)
    client.force_login(bob)
    assert "runbook" not in picker_options(client)
    assert b"On-call runbook" not in client.get("/").content
    client.force_login(admin)
    assert "runbook" in picker_options(client)


def test_a_bot_with_no_groups_is_for_everyone(bob, runbook_bot):
    assert list(Bot.objects.visible_to(bob).values_list("slug", flat=True)) == ["assistant"]
    runbook_bot.groups.clear()
    assert set(Bot.objects.visible_to(bob).values_list("slug", flat=True)) == {"assistant", "runbook"}


def test_a_user_in_several_of_a_bots_groups_sees_it_once(alice, runbook_bot):
    second = Group.objects.create(name="On-call")
    alice.groups.add(second)
    runbook_bot.groups.add(second)
    assert list(Bot.objects.visible_to(alice).values_list("slug", flat=True)) == ["assistant", "runbook"]


def test_a_non_member_cannot_start_a_conversation_with_the_bot(bob, runbook_bot):
    with pytest.raises(NotFound, match="No such bot"):
        actions.send_message(bob, "How do I restart the database?", bot_slug="runbook")
    assert not Conversation.objects.filter(owner=bob).exists()


def test_a_member_removed_from_the_group_cannot_go_on_with_the_bot(alice, engineering, runbook_bot):
    sent = actions.send_message(alice, "How do I restart the database?", bot_slug="runbook")
    conversation, reply = sent.conversation, sent.reply
    reply.finish(Message.Status.DONE)
    alice.groups.remove(engineering)

    with pytest.raises(NotFound, match="No such bot"):
        actions.send_message(alice, "And then?", conversation_id=conversation.pk)
    assert conversation.messages.filter(role=Message.Role.USER).count() == 1


def test_the_default_bot_is_the_first_one_the_user_may_use(bob, runbook_bot):
    Bot.objects.filter(slug="assistant").update(is_default=False)
    runbook_bot.is_default = True
    runbook_bot.save()
    assert Bot.objects.default_for(bob).slug == "assistant"


async def test_a_non_member_gets_not_found_on_the_websocket(bob, runbook_bot, socket_for):
    socket = await socket_for(bob)
    await socket.send_json_to({"type": "send", "text": "How do I restart the database?", "bot": "runbook"})
    [frame] = await receive_until(socket, lambda f: True, timeout=10)
    assert frame["type"] == "error" and frame["error"] == "No such bot."
    assert not await sync_to_async(Conversation.objects.filter(owner=bob).exists)()
