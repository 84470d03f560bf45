"""Chat messages with image parts → plain-text chat messages for the template."""

from __future__ import annotations

from collections.abc import Sequence

from .chat_request import ChatMessage
from .images import ImageDescription, image_block


def text_messages(messages: Sequence[ChatMessage], images: Sequence[ImageDescription]) -> list[dict[str, str]]:
    """Replace image parts, in order, by their description blocks.

    ``images`` describes the request's images in the order they appear across all
    messages; they are numbered 1, 2, ... in that order so the model (and the user
    reading an answer like "in image 2") can refer to them.
    """
    remaining = iter(enumerate(images, start=1))
    flat = []
    for message in messages:
        texts = []
        for part in message.parts:
            if isinstance(part, str):
                texts.append(part)
            else:
                try:
                    number, description = next(remaining)
                except StopIteration:
                    raise ValueError("fewer image descriptions than image parts") from None
                texts.append(image_block(number, description))
        flat.append({"role": message.role, "content": "\n".join(t for t in texts if t)})
    if next(remaining, None) is not None:
        raise ValueError("more image descriptions than image parts")
    return flat
