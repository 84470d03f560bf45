"""Sending images with a message over the chat websocket, as the browser does."""

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from chatapp.chat.models import Message
from chatapp.images.models import Attachment
from tests.support.pictures import picture, uploaded_id
from tests.support.websocket import receive_until

pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def upload_images(user, count):
    client = Client()
    client.force_login(user)
    return [uploaded_id(client, picture(color=(user.pk, index, 99)), f"shot-{index}.png") for index in range(count)]


@sync_to_async
def attached_to(ids):
    return list(Attachment.objects.filter(pk__in=ids).values_list("message_id", flat=True))


@sync_to_async
def message_count():
    return Message.objects.count()


async def send(socket, text, images, ref="r1", **extra):
    await socket.send_json_to({"type": "send", "ref": ref, "text": text, "images": images, **extra})
    return await receive_until(socket, lambda frame: frame.get("ref") == ref and frame["type"] in ("message", "error"))


async def test_images_sent_with_a_message_are_attached_and_echoed(alice, socket_for):
    ids = await upload_images(alice, 2)
    socket = await socket_for(alice)
    frames = await send(socket, "What do these show?", ids)
    question = frames[-1]["message"]
    assert question["content"] == "What do these show?"
    assert [image["id"] for image in question["images"]] == ids
    assert question["images"][0]["thumbnail_url"] == f"/images/{ids[0]}/thumbnail/"
    assert await attached_to(ids) == [question["id"]] * 2


async def test_five_images_when_four_are_allowed_are_refused_and_the_text_is_kept(alice, socket_for):
    ids = await upload_images(alice, 5)
    socket = await socket_for(alice)
    frames = await send(socket, "Compare these five screenshots.", ids)
    assert frames[-1] == {
        "type": "error",
        "error": "A message can carry at most 4 images; this one has 5. Remove 1 and send again.",
        "request": "send",
        "ref": "r1",
    }
    # Nothing was saved, and the images are still there to send with four of them.
    assert await message_count() == 0
    assert await attached_to(ids) == [None] * 5
    frames = await send(socket, "Compare these four screenshots.", ids[:4], ref="r2")
    assert len(frames[-1]["message"]["images"]) == 4


async def test_another_users_images_cannot_be_sent(alice, bob, socket_for):
    bobs = await upload_images(bob, 1)
    socket = await socket_for(alice)
    frames = await send(socket, "Whose picture is this?", bobs)
    assert frames[-1]["error"] == "An attached image is no longer available: remove it and attach it again."
    assert await message_count() == 0
    assert await attached_to(bobs) == [None]


async def test_an_image_cannot_be_sent_twice(alice, socket_for):
    ids = await upload_images(alice, 1)
    socket = await socket_for(alice)
    await send(socket, "First time.", ids)
    frames = await send(socket, "Second time, new conversation.", ids, ref="r2")
    assert frames[-1]["type"] == "error"
    assert await message_count() == 2  # the first question and its answer only


async def test_images_over_the_total_size_are_refused(alice, socket_for, settings):
    ids = await upload_images(alice, 2)
    settings.MAX_IMAGE_TOTAL_BYTES = 100
    socket = await socket_for(alice)
    frames = await send(socket, "Two pictures.", ids)
    reason = " ".join(frames[-1]["error"].split())
    assert reason.startswith("The images add up to ")
    assert reason.endswith(" bytes; one message can carry at most 100 bytes.")
    assert await message_count() == 0


async def test_image_ids_must_be_a_list_of_numbers(alice, socket_for):
    socket = await socket_for(alice)
    frames = await send(socket, "Hello", ["../../etc/passwd"])
    assert frames[-1]["error"] == "Images must be given as a list of image ids."


async def test_an_image_alone_is_a_question(alice, socket_for):
    [image_id] = await upload_images(alice, 1)
    socket = await socket_for(alice)
    frames = await send(socket, "", [image_id])
    question = frames[-1]["message"]
    assert question["content"] == "" and [image["id"] for image in question["images"]] == [image_id]
    created = next(frame for frame in frames if frame["type"] == "created")
    assert created["conversation"]["title"] == "Image"


async def test_no_text_and_no_image_is_refused(alice, socket_for):
    socket = await socket_for(alice)
    frames = await send(socket, "", [])
    assert frames[-1] == {"type": "error", "error": "Type a message first.", "request": "send", "ref": "r1"}


async def test_the_knowledge_base_bot_says_it_cannot_read_an_attached_image_and_nothing_is_lost(alice, socket_for):
    from tests.support.conversations import ensure_bots

    faq_bot = (await sync_to_async(ensure_bots)())["team-faq"]
    ids = await upload_images(alice, 1)
    socket = await socket_for(alice)
    frames = await send(socket, "What does this error mean?", ids, bot=faq_bot.slug)
    assert frames[-1]["type"] == "error"
    assert "cannot read images" in frames[-1]["error"] and "ask in words" in frames[-1]["error"]
    assert await message_count() == 0 and await attached_to(ids) == [None]
