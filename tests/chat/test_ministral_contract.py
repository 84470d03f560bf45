"""Every request shape the app builds is one Ministral 3 accepts.

vLLM serving Ministral 3 (`--tokenizer_mode mistral`) checks each request with
mistral-common's validator before anything else, and answers 400 to what it
rejects (an assistant message last, an empty assistant message, images outside
user messages...). The same validator runs here, on the CPU, on the requests
the real code builds.
"""

import pytest

from benchmarks.fake_engine import validation_error
from chatapp.chat import actions
from chatapp.chat.models import Message
from chatapp.chat.naming import title_from_model
from chatapp.chat.prompt import build_request
from chatapp.images.actions import attacher_for
from tests.support.conversations import converse, ensure_bots
from tests.support.pictures import uploaded_id

pytestmark = pytest.mark.django_db


def assert_ministral_accepts(messages, continue_final_message=False):
    problem = validation_error({"messages": messages, "continue_final_message": continue_final_message})
    assert problem is None, problem


def prompt_for(reply):
    request = build_request(Message.objects.select_related("conversation").get(pk=reply.pk))
    assert_ministral_accepts(request.messages, continue_final_message=request.continues)
    return request


@pytest.fixture
def vision(settings):
    settings.INFERENCE_IMAGE_MODE = "vision"
    settings.INFERENCE_MAX_IMAGES = 4


def ask(user, text, conversation_id=None, images=()):
    attach = attacher_for(user, list(images)) if images else None
    return actions.send_message(user, text, conversation_id=conversation_id, attach=attach)


def answer(reply, text="An answer.", status=Message.Status.DONE, **fields):
    reply.claim()
    reply.finish(status, content=text, **fields)
    return reply


def test_the_validator_refuses_what_vllm_refuses():
    """The check is real: the shapes Mistral's template rejects fail here."""
    user, empty = {"role": "user", "content": "Hi"}, {"role": "assistant", "content": ""}
    assert "last role" in validation_error({"messages": [user, {"role": "assistant", "content": "Hel"}]})
    assert "content" in validation_error({"messages": [user, empty, user]})
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    assert validation_error({"messages": [{"role": "system", "content": [image]}, user]})


def test_a_first_question_and_a_long_history(alice):
    conversation = converse(alice, [(f"Question {n}", f"Answer {n}") for n in range(5)])
    reply = ask(alice, "And now?", conversation_id=conversation.pk).reply
    request = prompt_for(reply)
    assert [message["role"] for message in request.messages][:2] == ["system", "user"]

    first = ask(alice, "Hello").reply
    prompt_for(first)


def test_histories_with_images_in_vision_mode(alice, alice_client, vision):
    images = [uploaded_id(alice_client) for _ in range(3)]
    sent = ask(alice, "What is in these?", images=images)
    conversation, reply = sent.conversation, sent.reply
    answer(reply)
    more = [uploaded_id(alice_client) for _ in range(3)]
    reply = ask(alice, "", conversation_id=conversation.pk, images=more).reply  # an image alone is a question
    request = prompt_for(reply)
    parts = [
        part for message in request.messages if isinstance(message["content"], list) for part in message["content"]
    ]
    assert sum(part["type"] == "image_url" for part in parts) == 4  # the limit per prompt; older ones left out
    assert all(message["role"] == "user" for message in request.messages if isinstance(message["content"], list))


def test_failed_stopped_and_empty_answers_in_the_history(alice):
    sent = ask(alice, "One")
    conversation, reply = sent.conversation, sent.reply
    answer(reply, "", status=Message.Status.ERROR, error="The model failed.")
    reply = ask(alice, "Two", conversation_id=conversation.pk).reply
    answer(reply, "", status=Message.Status.STOPPED)
    reply = ask(alice, "Three", conversation_id=conversation.pk).reply
    answer(reply, "Half an answ", status=Message.Status.STOPPED)
    reply = ask(alice, "Four", conversation_id=conversation.pk).reply
    request = prompt_for(reply)
    assert all(message["content"] for message in request.messages if message["role"] == "assistant")


def test_retried_versions_and_edited_questions(alice):
    sent = ask(alice, "First question")
    question, reply = sent.question, sent.reply
    answer(reply, "", status=Message.Status.ERROR, error="Unreachable.")
    again = actions.retry_reply(alice, reply.pk)
    prompt_for(again)
    answer(again)

    third = actions.retry_reply(alice, again.pk)
    prompt_for(third)
    answer(third, "Another version.")

    edited_reply = actions.edit_question(alice, question.pk, "The question, edited").reply
    prompt_for(edited_reply)


def test_continuing_an_answer_cut_at_the_length_limit(alice):
    reply = ask(alice, "Tell me everything.").reply
    answer(reply, "The first part, cut", finish_reason=Message.FinishReason.LENGTH)
    actions.continue_reply(alice, reply.pk)
    request = prompt_for(reply)
    assert request.continues and request.messages[-1] == {"role": "assistant", "content": "The first part, cut"}


def test_knowledge_base_prompts_and_title_requests(alice, settings, vllm_stand_in):
    from django.core.management import call_command

    call_command("load_sample_faq", verbosity=0)
    settings.FAQ_ANSWER_MODE = "generate"
    faq_bot = ensure_bots()["team-faq"]
    reply = actions.send_message(alice, "How do I request time off?", bot_slug=faq_bot.slug).reply
    prompt_for(reply)

    reply = ask(alice, "How do I reset my password?").reply
    answer(reply, "Use the self-service page.")
    reply.model = vllm_stand_in.model
    title_from_model(reply)
    requests = vllm_stand_in.requests()
    assert requests
    for body in requests:
        assert_ministral_accepts(body["messages"])


def test_api_transcripts_with_the_clients_own_turns(alice):
    turns = [
        actions.Turn("user", "Hi"),
        actions.Turn("assistant", "Hello! How can I help?"),
        actions.Turn("assistant", ""),  # a client that sends an empty turn
        actions.Turn("user", "Summarise our chat."),
    ]
    reply = actions.send_transcript(alice, turns, bot=ensure_bots()["assistant"]).reply
    prompt_for(reply)

    reply = actions.send_transcript(
        alice,
        [actions.Turn("user", "One"), actions.Turn("user", "Two in a row")],
        bot=ensure_bots()["assistant"],
    ).reply
    prompt_for(reply)


def test_title_requests_carry_a_priority_only_where_the_engine_schedules_by_it(alice, settings, vllm_stand_in):
    reply = ask(alice, "How do I reset my password?").reply
    answer(reply, "Use the self-service page.")
    reply.model = vllm_stand_in.model
    title_from_model(reply)
    assert "priority" not in vllm_stand_in.requests()[-1]

    settings.INFERENCE_TITLE_PRIORITY = 10
    vllm_stand_in.configure(scheduling_policy="priority")
    title_from_model(reply)
    assert vllm_stand_in.requests()[-1]["priority"] == 10
