"""The composer tells whether the chosen model sees images or only reads their text."""

import json
import re

import pytest

pytestmark = pytest.mark.django_db

NOTE = "This model reads images through OCR only"


def note_is_hidden(page):
    return bool(re.search(r'id="image-mode-note"[^>]*\shidden', page))


def modes(page):
    return json.loads(re.search(r'<script id="image-modes" type="application/json">(.*?)</script>', page).group(1))


def test_the_page_says_when_the_model_reads_images_through_ocr_only(alice_client, settings):
    settings.INFERENCE_IMAGE_MODE = "ocr"
    page = alice_client.get("/").content.decode()
    assert NOTE in page and not note_is_hidden(page)
    assert page.count('id="attach-button"') == 1
    assert ">Attach image</button>" in page


def test_the_note_is_hidden_for_a_model_that_sees_images(alice_client, settings):
    settings.INFERENCE_IMAGE_MODE = "vision"
    assert note_is_hidden(alice_client.get("/").content.decode())


def test_each_bot_carries_how_its_model_reads_images(alice_client, settings):
    from chatapp.chat.models import Bot

    Bot.objects.create(name="Eyes", slug="eyes", model="big-vision-model")
    Bot.objects.create(name="Reader", slug="reader", model="small-text-model")
    settings.INFERENCE_IMAGE_MODES = {"big-vision-model": "vision"}
    shown = modes(alice_client.get("/").content.decode())
    assert (shown["eyes"], shown["reader"]) == ("vision", "ocr")
