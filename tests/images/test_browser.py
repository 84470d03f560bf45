"""Attaching images as a person does: Chromium, daphne, the worker and the real model."""

import base64

import pytest

from chatapp.images.models import Attachment
from tests.support.accounts import sign_in
from tests.support.pictures import picture

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = "What do these pictures show?"
USER_IMAGES = "article.message.user .message-images img"


def as_file(data, name):
    return {"name": name, "mimeType": "image/png", "buffer": data}


def transfer_script(event):
    """Fire `event` carrying one file, as the browser does for a paste or a drop."""
    return f"""([b64, name, target]) => {{
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], name, {{ type: "image/png" }}));
        const init = {{ bubbles: true, cancelable: true }};
        const event = "{event}" === "paste"
            ? new ClipboardEvent("paste", {{ ...init, clipboardData: transfer }})
            : new DragEvent("{event}", {{ ...init, dataTransfer: transfer }});
        document.querySelector(target).dispatchEvent(event);
    }}"""


def paste(page, data, name):
    page.evaluate(transfer_script("paste"), [base64.b64encode(data).decode(), name, "#message-input"])


def drop(page, data, name):
    page.evaluate(transfer_script("drop"), [base64.b64encode(data).decode(), name, "#transcript"])


def test_attach_by_chooser_paste_and_drop_send_and_see_the_thumbnails_after_a_reload(page, live_app, alice):
    sign_in(page, live_app, alice)
    composer = page.get_by_role("textbox", name="Message")
    composer.fill(QUESTION)
    assert page.get_by_text("This model reads images through OCR only").is_visible()

    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Attach image").click()
    chooser.value.set_files([as_file(picture(color=(200, 0, 0)), "red.png"), as_file(b"just notes", "notes.png")])
    page.locator('.image-preview[data-state="ready"]').wait_for()
    refused = page.locator('.image-preview[data-state="failed"]')
    assert refused.get_by_role("alert").inner_text().startswith("notes.png: This is not an image this chat accepts")
    assert composer.input_value() == QUESTION  # the text stays

    paste(page, picture(color=(0, 160, 0)), "image.png")
    drop(page, picture(color=(0, 0, 220)), "blue.png")
    page.wait_for_function("() => document.querySelectorAll('.image-preview[data-state=\"ready\"]').length === 3")
    assert page.get_by_role("img", name="Preview of red.png").is_visible()
    page.get_by_role("button", name="Dismiss the error about notes.png").click()

    page.get_by_role("button", name="Send").click()
    page.locator(USER_IMAGES).nth(2).wait_for()
    assert page.locator(".image-preview").count() == 0
    assert composer.input_value() == ""
    thumbnails = page.locator(USER_IMAGES)
    assert [thumbnails.nth(i).get_attribute("alt") for i in range(3)] == [
        "Attached image: red.png",
        "Attached image: image.png",
        "Attached image: blue.png",
    ]
    page.wait_for_function(
        f"() => [...document.querySelectorAll('{USER_IMAGES}')].every((i) => i.complete && i.naturalWidth > 0)"
    )

    full = page.locator("article.message.user a.message-image").first.get_attribute("href")
    response = page.request.get(f"{live_app}{full}")
    assert response.status == 200 and response.headers["content-type"] == "image/png"
    assert list(Attachment.objects.order_by("id").values_list("message__content", flat=True)) == [QUESTION] * 3

    # Let the answer finish (the model reads the pictures through OCR) before reloading.
    page.locator('article.message.assistant:is([data-status="done"], [data-status="error"])').wait_for(timeout=180_000)
    page.reload()
    page.locator(USER_IMAGES).nth(2).wait_for()
    assert page.locator(USER_IMAGES).count() == 3
    page.wait_for_function(
        f"() => [...document.querySelectorAll('{USER_IMAGES}')].every((i) => i.complete && i.naturalWidth > 0)"
    )
