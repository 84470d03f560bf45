"""What the operator sets for the deployment reaches the model, unless a bot says otherwise."""

import importlib

import pytest
from asgiref.sync import sync_to_async
from django.apps import apps as django_apps

from chatapp.chat.models import Bot
from tests.support.conversations import ensure_bots
from tests.support.websocket import finished, receive_until, reload, reply_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("worker")]


async def ask(socket, text):
    await socket.send_json_to({"type": "send", "conversation_id": None, "text": text})
    return await reload(reply_in(await receive_until(socket, finished())))


async def test_the_default_bot_answers_with_the_deployments_temperature_and_length(
    alice, socket_for, settings, vllm_stand_in
):
    settings.INFERENCE_TEMPERATURE = 0.05
    settings.INFERENCE_MAX_TOKENS = 1024
    reply = await ask(await socket_for(alice), "seed=1 tokens=20 rate=500")

    assert reply.status == "done"
    (sent,) = vllm_stand_in.requests()
    assert (sent["temperature"], sent["max_tokens"]) == (0.05, 1024)


async def test_a_bot_with_its_own_temperature_and_a_lower_limit_keeps_them(alice, socket_for, settings, vllm_stand_in):
    settings.INFERENCE_TEMPERATURE = 0.05
    settings.INFERENCE_MAX_TOKENS = 1024
    await sync_to_async(ensure_bots)()
    await Bot.objects.filter(slug="assistant").aupdate(temperature=0.3, max_tokens=200)
    await ask(await socket_for(alice), "seed=1 tokens=20 rate=500")

    (sent,) = vllm_stand_in.requests()
    assert (sent["temperature"], sent["max_tokens"]) == (0.3, 200)


def test_bots_that_carried_the_old_defaults_inherit_after_the_migration(db):
    migration = importlib.import_module("chatapp.chat.migrations.0009_bots_inherit_deployment_sampling_finish_reason")
    Bot.objects.update_or_create(
        slug="assistant", defaults={"name": "Assistant", "temperature": 0.2, "max_tokens": 512}
    )
    tuned = Bot.objects.create(name="Tuned", slug="tuned", temperature=0.7, max_tokens=300)
    faq = Bot.objects.update_or_create(
        slug="team-faq", defaults={"name": "Team FAQ", "temperature": 0.0, "max_tokens": 512}
    )[0]

    migration.inherit_from_deployment(django_apps, None)

    assistant = Bot.objects.get(slug="assistant")
    assert (assistant.temperature, assistant.max_tokens) == (None, None)
    tuned.refresh_from_db()
    assert (tuned.temperature, tuned.max_tokens) == (0.7, 300)
    faq.refresh_from_db()
    assert (faq.temperature, faq.max_tokens) == (0.0, None)
