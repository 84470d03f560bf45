import pytest

from chatapp.api.actions import create_token
from tests.support.api import client_for


@pytest.fixture
def alice_key(alice):
    return create_token(alice, "tests")[1]


@pytest.fixture
def api(live_app, bots, alice_key):
    """The official OpenAI client, signed in with one of alice's tokens."""
    with client_for(live_app, alice_key) as client:
        yield client
