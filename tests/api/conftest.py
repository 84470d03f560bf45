import time

import pytest
from openai import OpenAI

from chatapp.api.actions import create_token
from chatapp.chat.models import Bot, Message


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Images go to a folder of this test's own (the live server gets it through the environment)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def bots(transactional_db):
    # Transactional tests empty the tables the data migration filled: make sure both bots exist.
    assistant, _ = Bot.objects.get_or_create(slug="assistant", defaults={"name": "Assistant", "is_default": True})
    team_faq, _ = Bot.objects.get_or_create(
        slug="team-faq",
        defaults={"name": "Team FAQ", "uses_knowledge_base": True, "temperature": 0.0, "position": 1},
    )
    return {"assistant": assistant, "team-faq": team_faq}


@pytest.fixture
def alice_key(alice):
    return create_token(alice, "tests")[1]


def client_for(live_app, key):
    # No retries: a test asserts the first answer, 429 and 503 included.
    return OpenAI(base_url=f"{live_app}/v1", api_key=key, max_retries=0, timeout=180)


@pytest.fixture
def api(live_app, bots, alice_key):
    """The official OpenAI client, signed in with one of alice's tokens."""
    with client_for(live_app, alice_key) as client:
        yield client


def wait_until_finished(message_id, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = Message.objects.get(pk=message_id)
        if not message.is_active:
            return message
        time.sleep(0.1)
    raise AssertionError(f"message {message_id} was still {message.status} after {timeout} s")
