"""What the model is sent for a message with images, and what happens when they do not fit."""

import base64
import io
import time

import httpx
import pytest
from PIL import Image, ImageDraw, ImageFont

from chatapp.chat import actions
from chatapp.chat.events import message_payload
from chatapp.chat.models import Conversation, Message
from chatapp.chat.prompt import build_request
from chatapp.images.actions import attacher_for, record_left_out
from chatapp.images.models import Attachment
from tests.support.pictures import picture, uploaded_id


def ask_with_images(user, text, images, conversation_id=None):
    return actions.send_message(user, text, conversation_id=conversation_id, attach=attacher_for(user, images)).reply


def finished(reply, timeout=180):
    """Wait for the worker to end the answer; returns it as saved."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply.refresh_from_db()
        if not reply.is_active:
            return reply
        time.sleep(0.1)
    raise AssertionError(f"the answer was still {reply.status} after {timeout} s")


@pytest.mark.django_db(transaction=True)
def test_the_model_service_receives_the_images_as_openai_content_parts(alice, alice_client, worker, scripted_engine):
    image = uploaded_id(alice_client, picture("PNG", size=(120, 80)), "chart.png")
    # The fake engine: what reaches it is the request as sent (the real service turns images into text first).
    engine = scripted_engine(answer="A small red rectangle.")
    reply = finished(ask_with_images(alice, "What is in this picture?", [image]))
    assert reply.status == Message.Status.DONE and reply.content == "A small red rectangle."
    [request] = engine.requests()
    system, question = request["messages"]
    assert system["role"] == "system"
    data = Attachment.objects.get(pk=image).image.read()
    assert question == {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is in this picture?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(data).decode()}},
        ],
    }
    assert Image.open(io.BytesIO(data)).size == (120, 80)


def conversation_with_images(user, client, images_per_turn, size=(560, 560)):
    """Finished turns with images, then a question with images and its queued answer."""
    conversation = Conversation.objects.create(owner=user, title="Pictures")
    shade = iter(range(1, 255))
    for number, count in enumerate(images_per_turn):
        question = Message.objects.append(conversation=conversation, role="user", content=f"Question {number}")
        ids = [uploaded_id(client, picture("PNG", size=size, color=(next(shade), 0, 0))) for _ in range(count)]
        Attachment.objects.filter(pk__in=ids).update(message=question)
        last = number == len(images_per_turn) - 1
        reply = Message.objects.append(
            conversation=conversation,
            role="assistant",
            content="" if last else f"Answer {number}",
            status=Message.Status.QUEUED if last else Message.Status.DONE,
        )
    return reply


def image_parts(request):
    return [
        part["type"] if part["type"] == "image_url" else part["text"]
        for message in request.messages
        if isinstance(message["content"], list)
        for part in message["content"][1:]
    ]


@pytest.fixture
def vision(settings):
    settings.INFERENCE_IMAGE_MODE = "vision"
    settings.INFERENCE_MAX_TOKENS = 512
    settings.SYSTEM_PROMPT = "Be brief."
    settings.INFERENCE_CONTEXT_MARGIN = 0  # the budgets below are counted to the token
    return settings


@pytest.mark.django_db
def test_the_oldest_images_are_left_out_first_when_the_context_is_full(alice, alice_client, vision):
    # A 560×560 image costs 420 tokens in Pixtral's encoder; three do not fit in 1100.
    vision.INFERENCE_CONTEXT_TOKENS = 512 + 1100
    reply = conversation_with_images(alice, alice_client, [1, 1, 1])
    request = build_request(reply)
    assert image_parts(request) == ["[image omitted: context limit]", "image_url", "image_url"]
    first = Attachment.objects.get(message__content="Question 0")
    assert request.dropped_images == [first.pk]
    assert request.dropped_turns == 0  # the text of every turn still fits


@pytest.mark.django_db
def test_the_images_of_the_question_stay_while_older_turns_go(alice, alice_client, vision):
    # The question and its image need 434 tokens; the earlier turn, even
    # without its image, does not fit next to them.
    vision.INFERENCE_CONTEXT_TOKENS = 512 + 440
    reply = conversation_with_images(alice, alice_client, [1, 1])
    request = build_request(reply)
    assert image_parts(request) == ["image_url"]
    assert request.dropped_turns == 2
    assert len(request.dropped_images) == 1


@pytest.mark.django_db
def test_no_more_images_go_than_the_model_server_accepts(alice, alice_client, vision):
    vision.INFERENCE_CONTEXT_TOKENS = 100_000
    vision.INFERENCE_MAX_IMAGES = 2
    reply = conversation_with_images(alice, alice_client, [1, 2], size=(40, 40))
    assert image_parts(build_request(reply)) == ["[image omitted: context limit]", "image_url", "image_url"]


@pytest.mark.django_db
def test_images_read_through_ocr_cost_what_their_text_will(alice, alice_client, settings):
    settings.INFERENCE_IMAGE_MODE = "ocr"
    settings.INFERENCE_MAX_TOKENS = 512
    settings.INFERENCE_CONTEXT_MARGIN = 0
    settings.INFERENCE_CONTEXT_TOKENS = 512 + 1100
    # Large pictures, but read as text they fit where three would not as pixels.
    reply = conversation_with_images(alice, alice_client, [1, 1, 1])
    assert image_parts(build_request(reply)) == ["image_url"] * 3


@pytest.mark.django_db
def test_the_answer_and_the_page_say_when_images_were_left_out(alice, alice_client, vision):
    vision.INFERENCE_CONTEXT_TOKENS = 512 + 1100
    reply = conversation_with_images(alice, alice_client, [1, 1, 1])
    record_left_out(reply, build_request(reply).dropped_images)
    assert message_payload(reply)["images_left_out"] == 1
    page = alice_client.get(f"/c/{reply.conversation_id}/").content.decode()
    assert "1 earlier image was left out of this answer's prompt" in page
    assert page.count('class="message-image"') == 3


def screenshot_of_an_error():
    image = Image.new("RGB", (900, 200), (30, 30, 30))
    ImageDraw.Draw(image).text(
        (30, 70), "ERROR 504: upstream timeout", fill=(255, 90, 90), font=ImageFont.load_default(size=44)
    )
    return picture_bytes(image)


def picture_bytes(image):
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.django_db(transaction=True)
def test_the_local_model_reads_the_text_of_a_screenshot(alice, alice_client, worker, model_service):
    image = uploaded_id(alice_client, screenshot_of_an_error(), "error.png")
    reply = finished(ask_with_images(alice, "What went wrong here?", [image]))
    assert reply.status == Message.Status.DONE, reply.error
    debug = model_service.removesuffix("/v1") + "/debug/last-prompt"
    prompt = httpx.get(debug).json()["prompt"]
    assert "What went wrong here?" in prompt
    assert "ERROR 504: upstream timeout" in prompt
