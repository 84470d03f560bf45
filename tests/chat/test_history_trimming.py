import pytest

from chatapp.chat.models import Bot, Message
from chatapp.chat.prompt import build_request
from tests.support.conversations import awaited_answer, converse

pytestmark = pytest.mark.django_db


def asking(owner, *exchanges):
    """A conversation of `exchanges` and the answer to write next."""
    conversation = converse(owner, list(exchanges))
    return conversation, awaited_answer(conversation)


def test_history_alternates_and_starts_with_the_system_prompt(alice, settings):
    _, reply = asking(alice, ("Hi", "Hello!"), ("How are you?", None))
    request = build_request(reply)
    assert [m["role"] for m in request.messages] == ["system", "user", "assistant", "user"]
    assert request.messages[0]["content"] == settings.SYSTEM_PROMPT
    assert request.messages[-1]["content"] == "How are you?"


def test_failed_answers_are_left_out_and_their_questions_merged(alice):
    conversation = converse(alice, [("First question", None)])
    Message.objects.append(conversation=conversation, role="assistant", status="error", content="", error="boom")
    Message.objects.append(conversation=conversation, role="user", content="Second try")
    reply = Message.objects.append(conversation=conversation, role="assistant", status="queued")
    request = build_request(reply)
    assert [m["role"] for m in request.messages] == ["system", "user"]
    assert request.messages[1]["content"] == "First question\n\nSecond try"


def test_old_turns_are_dropped_to_fit_the_budget_but_system_and_latest_stay(alice, settings):
    settings.INFERENCE_CONTEXT_TOKENS = 600
    settings.INFERENCE_MAX_TOKENS = 200
    long = "word " * 200  # ~330 tokens by the estimate
    _, reply = asking(alice, (long, long), ("old", "older answer"), ("The latest question", None))
    request = build_request(reply)
    assert request.messages[0]["role"] == "system"
    assert request.messages[-1]["content"] == "The latest question"
    assert all(long not in m["content"] for m in request.messages)
    assert request.dropped_turns == 2
    assert [m["role"] for m in request.messages][1] == "user"


def test_the_latest_turn_stays_even_when_it_alone_is_over_budget(alice, settings):
    settings.INFERENCE_CONTEXT_TOKENS = 300
    settings.INFERENCE_MAX_TOKENS = 200
    huge = "x" * 3000
    _, reply = asking(alice, ("earlier", "answer"), (huge, None))
    request = build_request(reply)
    assert [m["role"] for m in request.messages] == ["system", "user"]
    assert request.messages[-1]["content"] == huge


def test_the_bots_prompt_model_and_sampling_are_used(alice):
    bot = Bot.objects.create(
        name="Pirate", slug="pirate", system_prompt="Talk like a pirate.", model="m-1", temperature=0.7, max_tokens=64
    )
    conversation, reply = asking(alice, ("Ahoy", None))
    conversation.bot = bot
    conversation.save()
    request = build_request(Message.objects.get(pk=reply.pk))
    assert request.messages[0]["content"] == "Talk like a pirate."
    assert (request.model, request.temperature, request.max_tokens) == ("m-1", 0.7, 64)
