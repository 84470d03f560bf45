"""Reading an OpenAI chat completion request into what the chat needs.

The body is read by the one OpenAI request reader, `inference.chat_request`,
which the inference service uses too; what follows is the chat's reading of it.
The model is a bot's slug. System (and developer) messages are ignored: the
bot's own system prompt applies, as in the browser. Earlier user and
assistant messages become the conversation's history; each question is
checked by the browser's rule (`validate_question`). Images come as
`image_url` parts with data: URIs only (the server never fetches a URL), and
what they would cost is checked for all of them before any is decoded.
Of a long history only the newest turns that the model could be shown are
stored (`stored_history`).
"""

import hashlib
import json
from dataclasses import dataclass

from django.conf import settings

from chatapp.chat.actions import Turn, check_length, validate_question
from chatapp.chat.errors import ChatError
from chatapp.chat.models import CHARS_PER_TOKEN, Message
from chatapp.images.processing import Rejected, check_pixels, check_size, megapixels
from inference.chat_request import ChatRequest, parse_chat_request, read_json_body
from inference.errors import invalid
from inference.images import ImagePart

ROLES = ("system", "developer", "user", "assistant")


def transcript_digest(turns: list[Turn]) -> str:
    """A client's transcript, hashed: the same roles and texts give the same digest."""
    return hashlib.sha256(json.dumps([[turn.role, turn.text] for turn in turns]).encode()).hexdigest()


@dataclass
class Completion:
    request: ChatRequest
    turns: list[Turn]  # oldest first, the user's question last (only what is stored)
    images: dict[int, list[ImagePart]]  # turn index -> its images, not decoded yet
    digest: str = ""  # of the client's whole transcript
    # Of the transcript before the client's last answer and question, and that
    # answer: a request that re-sends the previous one's history with its answer.
    earlier_digest: str = ""
    previous_answer: str | None = None

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
    digest = transcript_digest(turns)
    earlier_digest, previous_answer = "", None
    if len(turns) >= 3 and turns[-2].role == Message.Role.ASSISTANT:
        earlier_digest, previous_answer = transcript_digest(turns[:-2]), turns[-2].text
    kept = stored_history(turns)
    dropped = len(turns) - kept
    turns = turns[dropped:]
    images = {index - dropped: parts for index, parts in images.items() if index >= dropped}
    return Completion(request, turns, images, digest, earlier_digest, previous_answer)


def stored_history(turns: list[Turn]) -> int:
    """How many of the newest `turns` are stored: as many as the model could be shown, at most.

    A client may send any history (one request of 30 MiB held 1,602
    messages); the prompt shows the model what fits INFERENCE_CONTEXT_TOKENS
    anyway, so older turns are not stored. The question always is, and the
    history kept starts with a question.
    """
    budget = settings.INFERENCE_CONTEXT_TOKENS * CHARS_PER_TOKEN
    used = len(turns[-1].text)
    kept = 1
    for turn in reversed(turns[:-1]):
        used += len(turn.text)
        if used > budget or kept >= settings.API_MAX_STORED_TURNS:
            break
        kept += 1
    while kept > 1 and turns[-kept].role != Message.Role.USER:
        kept -= 1
    return kept


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
