"""The API lists and answers only with the bots the token's owner may use; others are unknown models (404)."""

import json

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from chatapp.api.actions import create_token
from chatapp.chat.models import Bot

# The API closes stale connections around each query (channels), which a test transaction would not survive.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def runbook_bot(alice):
    Bot.objects.get_or_create(slug="assistant", defaults={"name": "Assistant", "is_default": True})
    engineering = Group.objects.create(name="Engineering")
    alice.groups.add(engineering)
    bot = Bot.objects.create(name="On-call runbook", slug="runbook")
    bot.groups.add(engineering)
    return bot


def api_client(user):
    return Client(headers={"Authorization": f"Bearer {create_token(user, 'tests')[1]}"})


def model_ids(user):
    response = api_client(user).get("/v1/models")
    assert response.status_code == 200
    return {model["id"] for model in response.json()["data"]}


def test_models_lists_a_group_bot_only_for_its_members(alice, bob, runbook_bot):
    assert "runbook" in model_ids(alice)
    assert "runbook" not in model_ids(bob) and "assistant" in model_ids(bob)


def test_a_non_member_gets_404_for_the_model(bob, runbook_bot):
    response = api_client(bob).get("/v1/models/runbook")
    assert response.status_code == 404
    assert "On-call" not in response.content.decode()


def test_a_non_member_gets_404_asking_the_bot(bob, runbook_bot):
    body = {"model": "runbook", "messages": [{"role": "user", "content": "How do I restart the database?"}]}
    response = api_client(bob).post("/v1/chat/completions", json.dumps(body), content_type="application/json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"
    assert not bob.conversations.exists()
