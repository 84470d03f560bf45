"""Actors and conversations for the review tests."""

import importlib
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.utils import timezone
from PIL import Image

from chatapp.chat.models import Conversation, Message
from chatapp.images.actions import upload_image
from chatapp.images.models import Attachment
from tests.conftest import make_user, serve_app


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def reviewer_group():
    """The group the data migration made; rebuilt the same way after a transactional test's flush removed it."""
    group, created = Group.objects.get_or_create(name="Reviewer")
    if created:
        migration = importlib.import_module("chatapp.review.migrations.0002_reviewer_group")
        for app_label, codename in migration.REVIEWER_PERMISSIONS:
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return group


@pytest.fixture
def reviewer(django_user_model):
    user = make_user(django_user_model, "rita", is_staff=True)
    user.groups.add(reviewer_group())
    return user


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def reviewer_client(reviewer):
    return signed_in(reviewer)


@pytest.fixture
def root_client(admin):
    return signed_in(admin)


def png_bytes(color="red", size=(64, 48)):
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def converse(owner, exchanges, title="A conversation", source=Conversation.Source.WEB, age=timedelta(0), model="test-model"):
    """A finished conversation: `exchanges` is a list of (question, answer) or (question, answer, fields)."""
    moment = timezone.now() - age
    conversation = Conversation.objects.create(
        owner=owner, title=title, source=source, created_at=moment, updated_at=moment
    )
    for number, (question, answer, *extra) in enumerate(exchanges):
        at = moment + timedelta(seconds=2 * number)
        Message.objects.create(conversation=conversation, role=Message.Role.USER, content=question, created_at=at)
        fields = {
            "status": Message.Status.DONE,
            "model": model,
            "prompt_tokens": 20,
            "completion_tokens": 40,
            "time_to_first_token": 0.25,
            "duration": 1.25,
            "started_at": at,
            "finished_at": at + timedelta(seconds=1),
            **(extra[0] if extra else {}),
        }
        Message.objects.create(
            conversation=conversation,
            role=Message.Role.ASSISTANT,
            content=answer,
            created_at=at + timedelta(seconds=1),
            **fields,
        )
    return conversation


def attach_image(message, color="red"):
    attachment = upload_image(message.conversation.owner, png_bytes(color), f"{color}.png")
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
