"""A long conversation never gets stuck on the model's context: the prompt is fitted to the endpoint's own count."""

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async

from benchmarks.fake_engine import answer_text, count_tokens
from chatapp.chat.models import Message
from tests.support.conversations import converse
from tests.support.websocket import finished, receive_until, reload, reply_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("worker")]

CONTEXT = 2000
# Japanese is about one token a character: three times what a characters/3 estimate counts.
TURN = "東京の天気について教えてください。" * 20  # 340 characters


@pytest.fixture
def small_context(settings, vllm_stand_in):
    settings.INFERENCE_CONTEXT_TOKENS = CONTEXT
    settings.INFERENCE_MAX_TOKENS = 100
    vllm_stand_in.configure(max_model_len=CONTEXT)
    return vllm_stand_in


@sync_to_async
def long_conversation(owner):
    exchanges = [(f"{number}: {TURN}", f"{number}: {TURN}") for number in range(6)]
    return converse(owner, exchanges, age=timedelta(minutes=5))


async def ask_in(socket, conversation, text):
    await socket.send_json_to({"type": "open", "conversation_id": conversation.pk})
    await socket.send_json_to({"type": "send", "conversation_id": conversation.pk, "text": text})
    frames = await receive_until(socket, finished())
    return await reload(reply_in(frames))


async def test_a_history_the_estimate_undercounts_is_trimmed_to_the_endpoints_count(alice, socket_for, small_context):
    conversation = await long_conversation(alice)
    reply = await ask_in(await socket_for(alice), conversation, "seed=11 tokens=6 rate=500")

    assert reply.status == Message.Status.DONE and reply.content == answer_text(11, 6)
    (sent,) = small_context.requests()
    counted = count_tokens(sent["messages"], {"chars_per_token": 2.0, "image_tokens": 1200})
    assert counted + sent["max_tokens"] <= CONTEXT
    assert sent["messages"][-1]["content"] == "seed=11 tokens=6 rate=500"
    assert 1 < len(sent["messages"]) < 14  # older turns left out, the question kept


async def test_without_a_count_a_refusal_for_context_length_is_trimmed_and_sent_once_more(
    alice, socket_for, small_context
):
    small_context.configure(tokenize=False)
    conversation = await long_conversation(alice)
    reply = await ask_in(await socket_for(alice), conversation, "seed=12 tokens=6 rate=500")

    assert reply.status == Message.Status.DONE and reply.content == answer_text(12, 6)
    refused, accepted = small_context.requests()
    assert len(accepted["messages"]) < len(refused["messages"])
    assert accepted["messages"][-1] == refused["messages"][-1]
