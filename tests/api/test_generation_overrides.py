"""An API client's max_tokens and temperature reach its answer's request, through the core's extension point."""

import pytest

from chatapp.api.models import CompletionRequest
from chatapp.chat import actions
from chatapp.chat.prompt import build_request

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_api_answer_is_generated_with_what_the_client_asked_for(alice, bots, no_worker, settings):
    settings.INFERENCE_MAX_TOKENS = 512
    reply = actions.send_message(alice, "Write a long story about a dragon.").reply
    CompletionRequest.objects.create(reply=reply, max_tokens=4, temperature=0.0)

    request = build_request(reply)

    assert (request.max_tokens, request.temperature) == (4, 0.0)


def test_an_api_client_cannot_ask_for_more_than_the_bot_allows(alice, bots, no_worker, settings):
    settings.INFERENCE_MAX_TOKENS = 64
    reply = actions.send_message(alice, "Write a long story about a dragon.").reply
    CompletionRequest.objects.create(reply=reply, max_tokens=4000, temperature=None)

    request = build_request(reply)

    assert request.max_tokens == 64
    assert reply.conversation.bot.temperature is None  # the default bots take the deployment's
    assert request.temperature == settings.INFERENCE_TEMPERATURE


def test_a_web_answer_is_generated_with_its_bots_settings(alice, bots, no_worker, settings):
    settings.INFERENCE_MAX_TOKENS = 64
    reply = actions.send_message(alice, "Write a long story about a dragon.").reply

    request = build_request(reply)

    assert (request.max_tokens, request.temperature) == (64, settings.INFERENCE_TEMPERATURE)
