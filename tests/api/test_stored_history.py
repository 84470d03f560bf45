"""The API stores a client's history once: a re-sent history continues its conversation, a long one is capped.

As found: one 30 MiB request stored 1,602 messages, and an ordinary OpenAI
client that re-sends its history stored n²/2 messages over n turns.
"""

import json

import pytest

from chatapp.api.actions import create_token, start_completion
from chatapp.api.completions import read_completion
from chatapp.chat.models import Bot, Conversation, Message

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def nothing_queued(no_worker):
    """Answers stay queued: no worker takes them."""
    return no_worker


@pytest.fixture
def token(alice, bots):
    return create_token(alice, "tests")[0]


def ask(token, messages):
    completion = read_completion(json.dumps({"model": "assistant", "messages": messages}).encode())
    reply = start_completion(token, completion, Bot.objects.get(slug="assistant"))
    return reply


def answered(reply, text):
    reply.finish(Message.Status.DONE, content=text)
    return {"role": "assistant", "content": text}


def test_a_client_re_sending_its_history_adds_only_its_new_question(alice, token):
    history = []
    for turn in range(6):
        history.append({"role": "user", "content": f"question {turn}"})
        reply = ask(token, history)
        history.append(answered(reply, f"answer {turn}"))
    assert Conversation.objects.filter(owner=alice).count() == 1
    assert Message.objects.filter(conversation__owner=alice).count() == 12  # not 42


def test_a_changed_history_starts_a_conversation_of_its_own(alice, token):
    first = ask(token, [{"role": "user", "content": "question"}])
    answered(first, "answer")
    ask(
        token,
        [
            {"role": "user", "content": "question"},
            {"role": "assistant", "content": "another answer"},
            {"role": "user", "content": "and then?"},
        ],
    )
    assert Conversation.objects.filter(owner=alice).count() == 2


def test_a_huge_history_is_stored_only_as_far_as_the_model_could_be_shown(alice, token, settings):
    turns = []
    for number in range(1600):
        turns.append({"role": "user" if number % 2 == 0 else "assistant", "content": f"turn {number} " + "x" * 200})
    turns.append({"role": "user", "content": "the question"})
    ask(token, turns)
    stored = Message.objects.filter(conversation__owner=alice)
    assert stored.count() <= settings.API_MAX_STORED_TURNS + 1
    assert stored.filter(content="the question").exists()
    first = stored.order_by("created_at", "id").first()
    assert first.role == "user"


@pytest.mark.parametrize("text", ["a\x00b", "lone \ud800"], ids=["NUL", "lone surrogate"])
def test_nul_and_lone_surrogates_get_a_400_naming_the_message(text):
    from inference.errors import APIError

    body = json.dumps({"model": "assistant", "messages": [{"role": "user", "content": text}]}).encode()
    with pytest.raises(APIError) as refusal:
        read_completion(body)
    assert refusal.value.status == 400 and "messages[0]" in str(refusal.value.body())
