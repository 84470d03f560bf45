"""The people of the tests, as fixtures: alice, bob, an admin, a reviewer; the bots they talk to."""

import pytest

from tests.support.accounts import FAST_HASHERS, PASSWORD, make_user
from tests.support.conversations import ensure_bots
from tests.support.websocket import open_socket


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture
def alice(django_user_model):
    return make_user(django_user_model, "alice")


@pytest.fixture
def bob(django_user_model):
    return make_user(django_user_model, "bob")


@pytest.fixture
def admin(django_user_model):
    return django_user_model.objects.create_superuser(username="root", password=PASSWORD, email="")


@pytest.fixture
def reviewer(django_user_model):
    """Rita: staff in the Reviewer group, as the admin's roles describe."""
    from chatapp.review.roles import reviewer_group

    user = make_user(django_user_model, "rita", is_staff=True)
    user.groups.add(reviewer_group())
    return user


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def bots(db):
    return ensure_bots()


@pytest.fixture
async def socket_for():
    """Connect as a user; every socket opened is closed after the test."""
    sockets = []

    async def connect(user, **kwargs):
        websocket = await open_socket(user, **kwargs)
        if websocket is not None:
            sockets.append(websocket)
        return websocket

    yield connect
    for websocket in sockets:
        await websocket.disconnect()
