"""What each answer cost is on a ledger: stopped answers count, deleted conversations give nothing back.

As found: 144 tokens streamed in 4 stopped answers counted 0 (the engine's
usage comes in its last chunk only), and deleting conversations lowered the
day's use from 6,090 to 3,509, letting a blocked user chat again.
"""

import pytest
from asgiref.sync import sync_to_async

from chatapp.chat import actions, lifecycle, quotas
from chatapp.chat.events import message_event, message_frame
from chatapp.chat.models import Message, TokenQuota, TokenUse, count_tokens
from tests.support.conversations import wait_until_finished
from tests.support.websocket import finished, receive_until

pytestmark = pytest.mark.django_db(transaction=True)


def used(user):
    return quotas.tokens_used_today(owner_ids=[user.pk])


def prepared_answer(user, text="What is the VPN address?"):
    """An answer whose prompt was built and sent to the model, as the worker does."""
    reply = actions.send_message(user, text).reply
    reply = lifecycle.claim(reply.pk)
    request = lifecycle.prepare(reply)
    return reply, request


@pytest.fixture
def nothing_queued(no_worker):
    """Answers stay queued: no worker takes them."""
    return no_worker


def test_a_stopped_answer_costs_its_prompt_and_the_text_it_wrote(alice, nothing_queued):
    reply, request = prepared_answer(alice)
    assert used(alice) == request.estimated_tokens > 0  # the prompt counts as soon as it is sent
    written = "The VPN address is vpn.example.com, " * 4
    lifecycle.finish(reply, Message.Status.STOPPED, text=written, seq=3)
    use = TokenUse.objects.get(answer_id=reply.pk)
    assert use.settled and use.estimated
    assert use.completion_tokens == count_tokens(written) > 0
    assert used(alice) == request.estimated_tokens + count_tokens(written)


def test_the_engines_usage_wins_when_it_arrives(alice, nothing_queued):
    reply, _ = prepared_answer(alice)
    lifecycle.finish(reply, Message.Status.DONE, text="Hello.", seq=1, prompt_tokens=120, completion_tokens=3)
    use = TokenUse.objects.get(answer_id=reply.pk)
    assert (use.prompt_tokens, use.completion_tokens, use.estimated) == (120, 3, False)


def test_an_answer_ended_by_the_reaper_still_costs_what_it_wrote(alice, nothing_queued):
    reply, request = prepared_answer(alice)
    lifecycle.save_progress([lifecycle.Progress(reply.pk, "Half an answer, written before the worker died", 2)])
    assert lifecycle.end_orphan(Message.objects.select_related("conversation").get(pk=reply.pk))
    assert used(alice) == request.estimated_tokens + count_tokens("Half an answer, written before the worker died")


def test_deleting_conversations_gives_no_tokens_back(alice, nothing_queued):
    TokenQuota.objects.create(user=alice, daily_tokens=100)
    reply, _ = prepared_answer(alice)
    lifecycle.finish(reply, Message.Status.DONE, text="x", seq=1, prompt_tokens=90, completion_tokens=30)
    before = used(alice)
    with pytest.raises(quotas.LimitReached):
        actions.send_message(alice, "more")
    actions.delete_conversation(alice, reply.conversation_id)
    assert used(alice) == before == 120
    with pytest.raises(quotas.LimitReached, match="120 of your 100"):
        actions.send_message(alice, "more, after deleting everything")


def test_an_answer_whose_conversation_is_deleted_while_it_is_written_still_costs_its_text(alice, nothing_queued):
    reply, request = prepared_answer(alice)
    actions.delete_conversation(alice, reply.conversation_id)
    with pytest.raises(Message.DoesNotExist):
        lifecycle.finish(reply, Message.Status.STOPPED, text="written meanwhile " * 10, seq=4)
    assert used(alice) == request.estimated_tokens + count_tokens("written meanwhile " * 10)


def test_a_retry_is_a_new_version_with_its_own_cost_and_the_first_keeps_its_own(alice, nothing_queued):
    reply, request = prepared_answer(alice)
    lifecycle.finish(reply, Message.Status.ERROR, text="partial", seq=1)
    retried = actions.retry_reply(alice, reply.pk)
    again = lifecycle.claim(retried.pk)
    assert again is not None
    second = lifecycle.prepare(again)
    assert TokenUse.objects.filter(answer_id=reply.pk).count() == 1
    assert TokenUse.objects.filter(answer_id=retried.pk).count() == 1
    assert used(alice) == request.estimated_tokens + count_tokens("partial") + second.estimated_tokens


def test_the_frame_that_ends_an_answer_tells_its_owner_their_tokens_today(alice, bob, nothing_queued):
    reply, _ = prepared_answer(alice)
    lifecycle.finish(reply, Message.Status.DONE, text="Hello.", seq=1, prompt_tokens=120, completion_tokens=3)
    event = message_event(reply, **lifecycle.day_total(reply))

    assert message_frame(event, alice.pk)["tokens_today"] == used(alice) == 123
    # Another person's socket never reads the figure, whatever it follows.
    assert "tokens_today" not in message_frame(event, bob.pk)


def test_frames_of_answers_still_being_written_carry_no_figure(alice, nothing_queued):
    reply, _ = prepared_answer(alice)

    assert "tokens_today" not in message_frame(message_event(reply, **lifecycle.day_total(reply)), alice.pk)


# --- with the real worker -----------------------------------------------------------


def queued_answer(frame):
    message = frame.get("message") or {}
    return frame.get("type") == "message" and message.get("role") == "assistant" and message["status"] == "queued"


async def test_four_answers_stopped_mid_stream_are_counted(alice, socket_for, fake_engine, worker, settings):
    settings.INFERENCE_URL = fake_engine.base_url
    socket = await socket_for(alice)
    replies = []
    for seed in range(4):
        await socket.send_json_to({"type": "send", "conversation_id": None, "text": f"seed={seed} tokens=400 rate=40"})
        reply = (await receive_until(socket, queued_answer))[-1]["message"]["id"]
        await receive_until(socket, lambda f, reply=reply: f.get("type") == "chunk" and f["message_id"] == reply)
        await socket.send_json_to({"type": "stop", "message_id": reply})
        # Off the shared thread: the consumer's Stop runs there.
        await sync_to_async(wait_until_finished, thread_sensitive=False)(reply)
        replies.append(reply)
    stopped = await sync_to_async(list)(Message.objects.filter(pk__in=replies))
    uses = await sync_to_async(list)(TokenUse.objects.filter(answer_id__in=replies))
    streamed = sum(count_tokens(answer.content) for answer in stopped)
    print(f"\n4 stopped answers: {sum(u.completion_tokens for u in uses)} answer tokens counted, {streamed} streamed")
    assert all(answer.status == Message.Status.STOPPED and answer.completion_tokens is None for answer in stopped)
    assert len(uses) == 4 and all(use.settled and use.completion_tokens > 0 for use in uses)
    assert await sync_to_async(used)(alice) >= streamed > 0


async def test_the_end_of_an_answer_brings_the_owners_own_day_total_live(
    alice, bob, socket_for, fake_engine, worker, settings
):
    settings.INFERENCE_URL = fake_engine.base_url
    # Someone else's tokens today: never in alice's figure.
    await sync_to_async(TokenUse.objects.create)(user=bob, answer_id=10**9, prompt_tokens=500, settled=True)
    socket = await socket_for(alice)

    await socket.send_json_to({"type": "send", "conversation_id": None, "text": "seed=3 tokens=20 rate=400"})
    frames = await receive_until(socket, finished())

    spent = await sync_to_async(used)(alice)
    assert frames[-1]["message"]["status"] == "done"
    assert frames[-1]["tokens_today"] == spent > 0
    assert not any("tokens_today" in frame for frame in frames[:-1])  # only once the answer has ended
