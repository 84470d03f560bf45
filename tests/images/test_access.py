"""Who may look at an image: its owner, and staff reviewing conversations."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from chatapp.chat import actions
from chatapp.images.actions import attacher_for
from chatapp.images.models import Attachment
from tests.support.accounts import make_user
from tests.support.pictures import uploaded_id

pytestmark = pytest.mark.django_db


@pytest.fixture
def alices_image(alice_client):
    return Attachment.objects.get(pk=uploaded_id(alice_client))


def sent(attachment):
    actions.send_message(
        attachment.owner, "What is in this picture?", attach=attacher_for(attachment.owner, [attachment.pk])
    )
    attachment.refresh_from_db()
    return attachment


@pytest.mark.parametrize("which", ["url", "thumbnail_url"])
def test_the_owner_gets_the_image_with_headers_that_keep_it_inert(which, alice_client, alices_image):
    response = alice_client.get(getattr(alices_image, which))
    assert response.status_code == 200
    assert response["Content-Type"] == ("image/png" if which == "url" else "image/webp")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Cache-Control"].startswith("private")
    assert response.content[:4] in (b"\x89PNG", b"RIFF")


@pytest.mark.parametrize("which", ["url", "thumbnail_url"])
def test_another_user_gets_404(which, client, bob, alices_image):
    client.force_login(bob)
    assert client.get(getattr(sent(alices_image), which)).status_code == 404


def test_a_missing_image_is_404_like_anyone_elses(alice_client):
    assert alice_client.get("/images/999999/").status_code == 404


@pytest.mark.parametrize("which", ["url", "thumbnail_url"])
def test_an_anonymous_request_is_sent_to_sign_in(which, alices_image):
    response = Client().get(getattr(alices_image, which))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_staff_reviewing_conversations_see_images_that_were_sent(client, admin, alices_image):
    client.force_login(admin)
    assert client.get(alices_image.url).status_code == 404  # not sent: part of no conversation yet
    assert client.get(sent(alices_image).url).status_code == 200


def test_staff_without_the_review_permission_get_404(client, django_user_model, alices_image):
    helper = make_user(django_user_model, "helpdesk", is_staff=True)
    client.force_login(helper)
    sent(alices_image)
    assert client.get(alices_image.url).status_code == 404
    helper.user_permissions.add(Permission.objects.get(codename="view_conversation", content_type__app_label="chat"))
    client.force_login(django_user_model.objects.get(pk=helper.pk))
    assert client.get(alices_image.url).status_code == 200
