import pytest
from openai import OpenAI

from chatapp.api.actions import create_token


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
