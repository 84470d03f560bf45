"""One account cannot flood the costly path: sends, retries, pings and answers at once.

The counters are the real ones, in the run's Redis; the sockets are the real
consumer (channels' communicator). These tests count answers, they do not
write them: nothing is queued, so that a worker left running by an earlier
test cannot finish (or fail) the answers they count as being written.
"""

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group
from django.utils import timezone
from django.utils.html import strip_tags

from chatapp.chat import actions, quotas
from chatapp.chat.models import Conversation, Message, TokenQuota, TokenUse
from tests.support.websocket import receive_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def nothing_queued(no_worker):
    """Answers stay queued: these tests count what is let in, not what is written."""


async def burst(socket, requests):
    """Send every request at once, then read one answer frame per request."""
    for request in requests:
        await socket.send_json_to(request)
    frames = []

    def answers():
        return [f for f in frames if f["type"] in ("created", "error", "pong")]

    while len(answers()) < len(requests):
        frames.append(await socket.receive_json_from(timeout=30))
    return frames


def sends(count):
    return [{"type": "send", "ref": f"r{n}", "conversation_id": None, "text": f"question {n}"} for n in range(count)]


async def test_a_burst_of_100_sends_is_cut_at_the_send_rate(alice, socket_for, settings):
    settings.MAX_ACTIVE_ANSWERS_PER_USER = 0  # the rate alone
    socket = await socket_for(alice)
    frames = await burst(socket, sends(100))
    created = [f for f in frames if f["type"] == "created"]
    refused = [f for f in frames if f["type"] == "error"]
    print(f"\n100 sends in a burst: {len(created)} accepted, refused from send {len(created) + 1} on")
    assert len(created) == 20 and len(refused) == 80
    assert await sync_to_async(Conversation.objects.filter(owner=alice).count)() == 20
    assert refused[0]["code"] == "rate_limited" and refused[0]["retry_after"] >= 1
    assert "Too many answers asked for" in refused[0]["error"] and refused[0]["ref"] == "r20"
    # Refused, not dropped: the socket still answers.
    await socket.send_json_to({"type": "ping"})
    assert (await socket.receive_json_from(timeout=10)) == {"type": "pong"}


async def test_at_most_three_answers_are_written_at_once_per_user(alice, bob, socket_for):
    socket = await socket_for(alice)
    frames = await burst(socket, sends(10))
    refused = [f for f in frames if f["type"] == "error"]
    assert len([f for f in frames if f["type"] == "created"]) == 3 and len(refused) == 7
    assert refused[0]["code"] == "too_many_answers"
    assert "3 answers being written" in refused[0]["error"] and "stop it" in refused[0]["error"]
    # Someone else is not held back by alice's answers.
    other = await socket_for(bob)
    assert [f["type"] for f in await burst(other, sends(1))].count("created") == 1


async def test_a_flood_of_pings_is_answered_with_errors_and_the_socket_stays_open(alice, socket_for, settings):
    settings.WEBSOCKET_REQUEST_RATE = "50/minute"
    socket = await socket_for(alice)
    frames = await burst(socket, [{"type": "ping"}] * 60)
    assert [f["type"] for f in frames].count("pong") == 50
    errors = [f for f in frames if f["type"] == "error"]
    assert len(errors) == 10 and "Too many requests" in errors[0]["error"]


def test_retries_count_against_their_own_rate(alice, settings):
    settings.CHAT_RETRY_RATE = "2/minute"
    reply = actions.send_message(alice, "hello").reply
    for _ in range(2):
        reply.finish(Message.Status.ERROR, error="failed")
        reply = actions.retry_reply(alice, reply.pk)
    reply.finish(Message.Status.ERROR, error="failed")
    with pytest.raises(quotas.LimitReached, match="Too many retries"):
        actions.retry_reply(alice, reply.pk)


def answered(user, tokens):
    """A finished answer of today that used `tokens` (prompt and completion), on the ledger."""
    conversation = Conversation.objects.create(owner=user, title="Earlier")
    Message.objects.append(conversation=conversation, role="user", content="a question")
    reply = Message.objects.append(
        conversation=conversation,
        role="assistant",
        content="an answer",
        prompt_tokens=tokens // 2,
        completion_tokens=tokens - tokens // 2,
        finished_at=timezone.now(),
    )
    TokenUse.objects.create(
        user=user,
        answer_id=reply.pk,
        prompt_tokens=tokens // 2,
        completion_tokens=tokens - tokens // 2,
        estimated=False,
        settled=True,
    )


def test_a_user_over_their_daily_token_quota_is_refused_until_midnight(alice, bob):
    TokenQuota.objects.create(user=alice, daily_tokens=1000)
    answered(alice, 1200)
    with pytest.raises(quotas.LimitReached) as refusal:
        actions.send_message(alice, "one more")
    assert refusal.value.code == "quota_exceeded"
    assert "1,200 of your 1,000" in str(refusal.value) and "midnight" in str(refusal.value)
    assert 0 < refusal.value.retry_after <= 24 * 3600
    assert Conversation.objects.filter(owner=alice).count() == 1  # the refusal saved nothing
    actions.send_message(bob, "bob has no quota")


def test_a_group_quota_is_shared_by_its_members(alice, bob, settings):
    team = Group.objects.create(name="Interns")
    team.user_set.add(alice, bob)
    TokenQuota.objects.create(group=team, daily_tokens=500)
    answered(alice, 300)
    answered(bob, 300)
    with pytest.raises(quotas.LimitReached, match="the group Interns's 500"):
        actions.send_message(alice, "again")


def test_the_default_daily_quota_applies_to_everyone_without_their_own(alice, bob, settings):
    settings.DAILY_TOKEN_QUOTA = 100
    TokenQuota.objects.create(user=bob, daily_tokens=10_000)
    answered(alice, 150)
    answered(bob, 150)
    with pytest.raises(quotas.LimitReached):
        actions.send_message(alice, "again")
    actions.send_message(bob, "again")


def test_usage_is_shown_to_the_user_and_in_the_admin(alice, admin, client, alice_client):
    TokenQuota.objects.create(user=alice, daily_tokens=5000)
    answered(alice, 1234)
    assert "Today: 1234 of 5000 tokens" in strip_tags(alice_client.get("/").content.decode())
    client.force_login(admin)
    page = client.get("/admin/chat/tokenquota/").content.decode()
    assert "1,234" in page and "5000" in page


async def test_a_refused_send_says_when_to_try_again_on_the_socket(alice, socket_for, settings):
    settings.CHAT_SEND_RATE = "1/minute"
    socket = await socket_for(alice)
    await burst(socket, sends(1))
    await socket.send_json_to({"type": "send", "ref": "again", "conversation_id": None, "text": "second"})
    [frame] = [f for f in await receive_until(socket, lambda f: f["type"] == "error") if f["type"] == "error"]
    assert frame["request"] == "send" and frame["ref"] == "again" and 1 <= frame["retry_after"] <= 60


async def test_a_send_refused_by_the_request_rate_names_the_send(alice, socket_for, settings):
    settings.WEBSOCKET_REQUEST_RATE = "1/minute"
    socket = await socket_for(alice)
    await burst(socket, [{"type": "ping"}])
    [frame] = await burst(socket, sends(1))
    assert frame["type"] == "error" and frame["request"] == "send" and frame["ref"] == "r0"
