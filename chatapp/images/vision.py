"""How a model reads the images in a prompt, and what they cost in its context."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from chatapp.chat import extensions
    from chatapp.chat.extensions import PayloadExtras
    from chatapp.chat.models import Message
    from chatapp.images.models import Attachment, StoredImage

VISION = "vision"
OCR = "ocr"
# The text that stands in for an image left out of the prompt.
LEFT_OUT_NOTE = "[image omitted: context limit]"
# Pixtral-style encoders (Ministral 3) read 28×28-pixel patches.
PATCH_SIDE = 28


def image_mode(model_name: str) -> str:
    """VISION if the model sees pixels, OCR if the inference service reads them out as text."""
    mode = settings.INFERENCE_IMAGE_MODES.get(model_name, settings.INFERENCE_IMAGE_MODE)
    return VISION if mode == VISION else OCR


def vision_tokens(width: int, height: int, max_side: int | None = None) -> int:
    """Tokens a Pixtral-style encoder spends on an image: one per patch, plus one per row."""
    max_side = max_side or settings.IMAGE_MAX_SIDE
    scale = min(1.0, max_side / max(width, height))
    columns = math.ceil(width * scale / PATCH_SIDE)
    rows = math.ceil(height * scale / PATCH_SIDE)
    return columns * rows + rows


def image_tokens(stored_image: StoredImage, mode: str) -> int:
    if mode == VISION:
        return vision_tokens(stored_image.width, stored_image.height)
    return settings.INFERENCE_OCR_IMAGE_TOKENS


# What the note in place of a left-out image costs (see chat.prompt.estimate_tokens).
LEFT_OUT_NOTE_TOKENS = len(LEFT_OUT_NOTE) // 3 + 1


class PromptImage:
    """An attached image on its way into a prompt, or left out of it."""

    def __init__(self, attachment: Attachment, mode: str) -> None:
        self.attachment = attachment
        self.tokens = image_tokens(attachment.image, mode)
        self.left_out = False

    @property
    def attachment_id(self) -> int:
        return self.attachment.pk

    @property
    def cost(self) -> int:
        return LEFT_OUT_NOTE_TOKENS if self.left_out else self.tokens

    def as_openai(self) -> dict[str, object]:
        if self.left_out:
            return {"type": "text", "text": LEFT_OUT_NOTE}
        # Inline, never a URL: the model server must not fetch anything (SSRF),
        # and our image URLs need a signed-in browser anyway.
        return {"type": "image_url", "image_url": {"url": self.attachment.image.data_uri()}}


class PromptImages:
    """The images side of the core's answer path (see chatapp.chat.extensions)."""

    relations: tuple[str, ...] = ("images",)

    def for_messages(self, messages: list[Message], model: str) -> list[extensions.PromptImage]:
        mode = image_mode(model)
        return [PromptImage(attachment, mode) for message in messages for attachment in message.images.all()]

    def attacher(self, user: User, image_ids: object) -> Callable[[Message], None]:
        from chatapp.images.actions import attacher_for

        return attacher_for(user, image_ids)

    def left_out(self, reply: Message, attachment_ids: list[int]) -> None:
        from chatapp.images.actions import record_left_out

        record_left_out(reply, attachment_ids)

    def count_on(self, message: Message) -> int:
        return message.images.count()

    def copy(self, source: Message, target: Message) -> None:
        from chatapp.images.actions import copy_attachments

        copy_attachments(source, target)

    def exported(self, message: Message, absolute: Callable[[str], str]) -> list[dict[str, str]]:
        # Links to the owner-only image views: they open for the user who exports.
        return [{"name": image.name, "url": absolute(image.url)} for image in message.images.all()]


def message_images(message: Message) -> PayloadExtras:
    """What a message's event says of its images."""
    if message.role == "user":
        return {"images": [image.as_event() for image in message.images.all()]}
    return {"images": [], "images_left_out": len(message.images_left_out.all())}
