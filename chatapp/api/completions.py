"""Reading an OpenAI chat completion request into what the chat needs.

The body is read by the one OpenAI request reader, `inference.chat_request`,
which the inference service uses too; what follows is the chat's reading of it.
The model is a bot's slug. System (and developer) messages are ignored: the
bot's own system prompt applies, as in the browser. Earlier user and
assistant messages become the conversation's history; each question is
checked by the browser's rule (`validate_question`). Images come as
`image_url` parts with data: URIs only (the server never fetches a URL), and
what they would cost is checked for all of them before any is decoded.
"""

from dataclasses import dataclass

from django.conf import settings

from chatapp.api.errors import invalid
from chatapp.chat.actions import ChatError, Turn, check_length, validate_question
from chatapp.chat.models import Message
from chatapp.images.processing import Rejected, check_pixels, check_size, megapixels
from inference.chat_request import ChatRequest, parse_chat_request, read_json_body
from inference.images import ImagePart

ROLES = ("system", "developer", "user", "assistant")


@dataclass
class Completion:
    request: ChatRequest
    turns: list[Turn]  # oldest first, the user's question last
    images: dict[int, list[ImagePart]]  # turn index -> its images, not decoded yet

    @property
    def model(self) -> str:
        return self.request.model


def read_completion(body: bytes) -> Completion:
    """The request in `body`, checked; raises APIError (400) naming what is wrong."""
    request = parse_chat_request(
        read_json_body(body, max_bytes=settings.API_MAX_REQUEST_BYTES),
        served_model=None,
        roles=ROLES,
        max_images=settings.API_MAX_IMAGES,
    )
    turns: list[Turn] = []
    images: dict[int, list[ImagePart]] = {}
    for position, message in enumerate(request.messages):
        if message.role == "system":
            continue
        text = message.text
        try:
            if message.role == Message.Role.USER:
                text = validate_question(text, images=len(message.images))
            elif not text.strip():
                continue  # an assistant turn with no text (a tool call) adds nothing to the history
            else:
                check_length(text)
        except ChatError as error:
            raise invalid(str(error), param=f"messages[{position}].content") from None
        if message.images:
            images[len(turns)] = message.images
        turns.append(Turn(message.role, text, len(message.images)))
    if not turns or turns[-1].role != Message.Role.USER:
        raise invalid("The last message must be the user's (role `user`).", param="messages")
    check_image_costs(request.images)
    return Completion(request, turns, images)


def check_image_costs(images: list[ImagePart]) -> None:
    """Refuse images too large, alone or together, from their declared sizes: nothing is decoded yet."""
    for image in images:
        try:
            check_size(image.declared_bytes)
        except Rejected as rejected:
            raise invalid(rejected.reason, param=image.param, code="invalid_image") from None
    pixels = 0
    for image in images:
        size = image.declared_size()
        if size is None:
            continue  # unreadable: processing the upload says why
        try:
            check_pixels(*size)
        except Rejected as rejected:
            raise invalid(rejected.reason, param=image.param, code="invalid_image") from None
        pixels += size[0] * size[1]
        if pixels > settings.API_MAX_PIXELS:
            raise invalid(
                f"The images of this request add up to more than {megapixels(settings.API_MAX_PIXELS)}, "
                "the limit for one request: send fewer or smaller images.",
                param=image.param,
                code="too_many_pixels",
            )
