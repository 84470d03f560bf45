"""Images as data: URI parts: stored and checked like the browser's uploads, read by the model."""

import base64
import functools
import io
import time

import httpx
import openai
import pytest
from PIL import Image, ImageDraw, ImageFont

from chatapp.chat.models import Conversation, Message
from chatapp.images.models import Attachment

pytestmark = pytest.mark.django_db(transaction=True)


def png(image):
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def screenshot_of_an_error():
    image = Image.new("RGB", (900, 200), (30, 30, 30))
    ImageDraw.Draw(image).text(
        (30, 70), "ERROR 504: upstream timeout", fill=(255, 90, 90), font=ImageFont.load_default(size=44)
    )
    return png(image)


def question_with(url, text="What went wrong here?"):
    return [
        {"role": "user", "content": [{"type": "text", "text": text}, {"type": "image_url", "image_url": {"url": url}}]}
    ]


def data_uri(data, media_type="image/png"):
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def test_an_image_part_is_attached_to_the_question_and_read_by_the_model(api, alice, model_service):
    completion = api.chat.completions.create(
        model="assistant", messages=question_with(data_uri(screenshot_of_an_error()))
    )

    question = Message.objects.get(role="user")
    [attachment] = Attachment.objects.filter(message=question)
    assert attachment.owner == alice
    assert (attachment.image.width, attachment.image.height, attachment.image.format) == (900, 200, "PNG")
    assert completion.choices[0].message.content == Message.objects.get(role="assistant").content
    # The CPU service reads images as text (OCR): the screenshot's words reached the model.
    prompt = httpx.get(model_service.removesuffix("/v1") + "/debug/last-prompt").json()["prompt"]
    assert "What went wrong here?" in prompt
    assert "ERROR 504: upstream timeout" in prompt


def test_a_bad_image_gets_400_with_the_reason_the_browser_would_see(api):
    cases = [
        (data_uri(b"%PDF-1.7 not a picture", "image/png"), "only JPEG, PNG, WebP and GIF pictures"),
        (data_uri(png(Image.new("RGB", (40, 40)))[:60]), "damaged or incomplete"),
        ("data:image/png;base64,@@@not-base64@@@", "not valid base64"),
        ("https://example.com/cat.png", "does not fetch URLs"),
    ]
    for url, reason in cases:
        with pytest.raises(openai.BadRequestError) as error:
            api.chat.completions.create(model="assistant", messages=question_with(url))
        assert error.value.status_code == 400
        assert reason in error.value.body["message"], url[:40]
        assert error.value.body["param"] == "messages[0].content[1].image_url"
    assert not Message.objects.exists()
    assert not Attachment.objects.exists()


def test_more_images_than_a_message_may_carry_get_400(api):
    parts = [{"type": "text", "text": "Compare these."}] + [
        {"type": "image_url", "image_url": {"url": data_uri(png(Image.new("RGB", (30, 30), (index * 40, 0, 0))))}}
        for index in range(5)
    ]
    with pytest.raises(openai.BadRequestError) as error:
        api.chat.completions.create(model="assistant", messages=[{"role": "user", "content": parts}])
    assert "at most 4 images" in error.value.body["message"]
    assert not Message.objects.exists()


def test_an_image_alone_is_a_question_as_in_the_browser(api, alice, model_service):
    only_image = [
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": data_uri(screenshot_of_an_error())}}]}
    ]
    completion = api.chat.completions.create(model="assistant", messages=only_image)

    question = Message.objects.get(role="user")
    assert question.content == ""
    assert Attachment.objects.filter(message=question).count() == 1
    assert Conversation.objects.get().title == "Image"
    assert completion.choices[0].message.content == Message.objects.get(role="assistant").content
    prompt = httpx.get(model_service.removesuffix("/v1") + "/debug/last-prompt").json()["prompt"]
    assert "ERROR 504: upstream timeout" in prompt


@functools.cache
def huge_picture(side=7000):
    """side×side pixels in a few kilobytes: cheap to send, seconds of CPU to decode."""
    return png(Image.new("1", (side, side)))


def with_images(text, count, side=7000):
    url = data_uri(huge_picture(side))
    return {
        "role": "user",
        "content": [{"type": "text", "text": text}] + [{"type": "image_url", "image_url": {"url": url}}] * count,
    }


def test_many_huge_images_are_refused_from_their_headers_before_any_is_decoded(api):
    thirteen = [
        with_images("Look.", 5),
        {"role": "assistant", "content": "I see."},
        with_images("And these.", 4),
        {"role": "assistant", "content": "Yes."},
        with_images("What now?", 4),
    ]
    started = time.process_time()  # the app serves in this process
    with pytest.raises(openai.BadRequestError) as error:
        api.chat.completions.create(model="assistant", messages=thirteen)
    print(f"\n13 images of 7000×7000 in one request: refused after {time.process_time() - started:.3f} s of CPU")
    assert "At most 8 images per request" in error.value.body["message"]

    with pytest.raises(openai.BadRequestError) as error:
        # Each within MAX_IMAGE_PIXELS, together over API_MAX_PIXELS.
        api.chat.completions.create(model="assistant", messages=[with_images("Compare these.", 3, side=4500)])
    assert error.value.body["code"] == "too_many_pixels"
    assert "add up to more than 50 megapixels" in error.value.body["message"]
    assert error.value.body["param"] == "messages[0].content[3].image_url"

    assert not Message.objects.exists()
    assert not Attachment.objects.exists()
