"""Chat completions through the official OpenAI client: the same path as the browser's chat."""

import httpx
import pytest

from chatapp.api.models import CompletionRequest
from chatapp.chat.models import Conversation, Message
from tests.support.conversations import wait_until_finished

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = [{"role": "user", "content": "Say hello to the team in one sentence."}]


def test_a_question_gets_the_saved_answer_with_its_usage(api, alice):
    completion = api.chat.completions.create(model="assistant", messages=QUESTION)

    reply = Message.objects.get(role="assistant")
    assert reply.status == Message.Status.DONE and reply.content
    assert completion.id == f"chatcmpl-{reply.pk}"
    assert completion.object == "chat.completion"
    assert completion.model == "assistant"
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == reply.content
    assert choice.finish_reason in ("stop", "length")
    assert completion.usage.prompt_tokens == reply.prompt_tokens > 0
    assert completion.usage.completion_tokens == reply.completion_tokens > 0
    assert completion.usage.total_tokens == reply.prompt_tokens + reply.completion_tokens


def test_a_streamed_answer_arrives_in_pieces_that_add_up_to_the_saved_answer(api):
    stream = api.chat.completions.create(
        model="assistant", messages=QUESTION, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)

    reply = Message.objects.get(role="assistant")
    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [chunk.choices[0].delta.content for chunk in chunks if chunk.choices and chunk.choices[0].delta.content]
    assert len(pieces) > 1
    assert "".join(pieces) == reply.content
    assert {chunk.id for chunk in chunks} == {f"chatcmpl-{reply.pk}"}
    finish_reasons = [
        chunk.choices[0].finish_reason for chunk in chunks if chunk.choices and chunk.choices[0].finish_reason
    ]
    assert finish_reasons in (["stop"], ["length"])
    # With include_usage the last chunk has no choices and the figures.
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == reply.completion_tokens > 0


def test_without_include_usage_the_stream_has_no_usage_chunk(api):
    chunks = list(api.chat.completions.create(model="assistant", messages=QUESTION, stream=True))

    assert chunks[-1].choices[0].finish_reason in ("stop", "length")
    assert all(chunk.usage is None for chunk in chunks)


def test_earlier_messages_become_the_conversation_history_and_the_bot_keeps_its_own_prompt(api, alice, model_service):
    api.chat.completions.create(
        model="assistant",
        messages=[
            {"role": "system", "content": "You are a pirate."},
            {"role": "user", "content": "My name is Ada."},
            {"role": "assistant", "content": "Nice to meet you, Ada."},
            {"role": "user", "content": [{"type": "text", "text": "What is my name?"}]},
        ],
    )

    conversation = Conversation.objects.get()
    assert conversation.source == Conversation.Source.API
    assert conversation.owner == alice
    assert conversation.title == "My name is Ada."
    saved = [(m.role, m.content, m.status, m.from_client) for m in conversation.messages.all()]
    assert saved[:3] == [
        ("user", "My name is Ada.", "done", False),
        # The client's words, not the bot's: reviewers see it so, and it cannot be promoted.
        ("assistant", "Nice to meet you, Ada.", "done", True),
        ("user", "What is my name?", "done", False),
    ]
    assert saved[3][0] == "assistant" and saved[3][2] == "done" and saved[3][3] is False
    prompt = httpx.get(model_service.removesuffix("/v1") + "/debug/last-prompt").text
    assert "Nice to meet you, Ada." in prompt and "What is my name?" in prompt
    assert "pirate" not in prompt


def test_max_tokens_and_temperature_are_honoured(api):
    completion = api.chat.completions.create(
        model="assistant",
        messages=[{"role": "user", "content": "Write a long story about a dragon."}],
        max_tokens=4,
        temperature=0,
    )

    assert completion.usage.completion_tokens <= 4
    assert completion.choices[0].finish_reason == "length"
    asked = CompletionRequest.objects.get()
    assert (asked.max_tokens, asked.temperature, asked.stream) == (4, 0.0, False)


def test_the_conversation_is_visible_to_its_owner_only(api, client, alice, bob):
    api.chat.completions.create(model="assistant", messages=QUESTION)
    conversation = Conversation.objects.get()

    client.force_login(alice)
    page = client.get(f"/c/{conversation.pk}/")
    assert page.status_code == 200
    assert b"Say hello to the team in one sentence." in page.content
    client.force_login(bob)
    assert client.get(f"/c/{conversation.pk}/").status_code == 404


def test_hanging_up_mid_stream_stops_the_answer(api, settings):
    settings.INFERENCE_MAX_TOKENS = 512  # long enough to hang up in the middle
    stream = api.chat.completions.create(
        model="assistant",
        messages=[{"role": "user", "content": "Write a very long story about a dragon."}],
        stream=True,
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            break
    stream.close()

    reply = wait_until_finished(Message.objects.get(role="assistant").pk)
    assert reply.status == Message.Status.STOPPED
    assert reply.content
