"""The conversation page shows what each feature adds, at the places the core declares (chatapp.chat.extensions)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from chatapp.chat import actions
from chatapp.chat.extensions import Registry, registry
from chatapp.chat.models import Message
from chatapp.images.actions import attacher_for
from tests.support.pictures import picture

pytestmark = pytest.mark.django_db

SOURCE = {"key": "vpn", "number": 1, "question": "How do I connect to the VPN?", "cited": True}


@pytest.fixture
def answered_with_an_image(alice, alice_client, no_worker):
    """Alice asked about a picture; the answer cites a knowledge-base entry."""
    upload = SimpleUploadedFile("red.png", picture(), content_type="image/png")
    image_id = alice_client.post("/images/", {"image": upload}).json()["image"]["id"]
    sent = actions.send_message(alice, "What is in this picture?", attach=attacher_for(alice, [image_id]))
    conversation, reply = sent.conversation, sent.reply
    Message.objects.filter(pk=reply.pk).update(status=Message.Status.DONE, content="A red square.", sources=[SOURCE])
    return conversation, image_id


def test_each_message_shows_its_image_sources_and_rating(alice_client, answered_with_an_image):
    conversation, image_id = answered_with_an_image

    html = alice_client.get(f"/c/{conversation.pk}/").content.decode()

    assert f'<img src="/images/{image_id}/thumbnail/" alt="Attached image: red.png"' in html
    assert '<p class="sources-label">Sources</p>' in html and "[1] How do I connect to the VPN?" in html
    assert 'class="feedback"' in html.split('id="transcript"')[1]  # under the answer
    assert 'id="image-composer"' in html  # the attach button
    assert "faq/sources.js" in html and "review/feedback.js" in html


def test_the_page_still_works_with_no_feature_plugged_in(alice_client, answered_with_an_image, monkeypatch):
    conversation, image_id = answered_with_an_image
    for name, value in vars(Registry()).items():
        monkeypatch.setattr(registry, name, value)

    response = alice_client.get(f"/c/{conversation.pk}/")

    html = response.content.decode()
    assert response.status_code == 200 and "A red square." in html and "What is in this picture?" in html
    assert f"/images/{image_id}/" not in html and "Sources" not in html and 'class="feedback"' not in html
