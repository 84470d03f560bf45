"""Actors and conversations for the review tests."""

import pytest

from chatapp.chat.models import Message
from chatapp.images.actions import upload_image
from chatapp.images.models import Attachment
from tests.support.accounts import signed_in
from tests.support.pictures import picture
from tests.support.processes import serve_app


@pytest.fixture
def reviewer_client(reviewer):
    return signed_in(reviewer)


@pytest.fixture
def root_client(admin):
    return signed_in(admin)


def attach_image(message, color="red"):
    attachment = upload_image(message.conversation.owner, picture(color=color), f"{color}.png")
    Attachment.objects.filter(pk=attachment.pk).update(message=message)
    attachment.refresh_from_db()
    return attachment


def question_of(conversation, number=0):
    return conversation.messages.filter(role=Message.Role.USER).order_by("created_at", "id")[number]


def answer_of(conversation, number=0):
    return conversation.messages.filter(role=Message.Role.ASSISTANT).order_by("created_at", "id")[number]


@pytest.fixture
def review_app(transactional_db, media_root):
    """daphne serving the app on the test database; no worker or model, as review needs neither."""
    with serve_app(MEDIA_ROOT=str(media_root)) as url:
        yield url
