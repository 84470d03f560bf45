"""Reading an OpenAI chat completion request into what the chat needs.

The model is a bot's slug. System (and developer) messages are ignored: the
bot's own system prompt applies, as in the browser. Earlier user and
assistant messages become the conversation's history. Images come as
`image_url` parts with data: URIs only (the server never fetches a URL).
"""

import base64
import binascii
import json
from dataclasses import dataclass, field

from django.conf import settings

from chatapp.api.errors import BadRequest
from chatapp.chat.actions import ChatError, validate_text

IGNORED_ROLES = ("system", "developer")
SPOKEN_ROLES = ("user", "assistant")


@dataclass
class CompletionInput:
    model: str
    turns: list  # (role, text), oldest first, the user's question last
    images: dict = field(default_factory=dict)  # turn index -> [(param, bytes)]
    stream: bool = False
    include_usage: bool = False
    max_tokens: int | None = None
    temperature: float | None = None


def read_json(body):
    if len(body) > settings.API_MAX_REQUEST_BYTES:
        raise BadRequest(
            f"The request is too large ({len(body):,} bytes; the limit is {settings.API_MAX_REQUEST_BYTES:,}).",
            code="request_too_large",
        )
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest(
            "We could not parse the JSON body of your request. The body must be a JSON object "
            "with `model` and `messages`."
        ) from None
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object with `model` and `messages`.")
    return data


def read_completion(data):
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("You must provide a model parameter: a bot's id from GET /v1/models.", param="model")
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("`messages` must be a non-empty array of messages.", param="messages")
    completion = CompletionInput(model=model, turns=[])
    for position, message in enumerate(messages):
        read_message(completion, message, f"messages[{position}]")
    if not completion.turns or completion.turns[-1][0] != "user":
        raise BadRequest("The last message must be the user's (role `user`).", param="messages")
    completion.stream = read_flag(data, "stream")
    options = data.get("stream_options")
    if options is not None:
        if not isinstance(options, dict):
            raise BadRequest("`stream_options` must be an object.", param="stream_options")
        completion.include_usage = read_flag(options, "include_usage", "stream_options.include_usage")
    completion.max_tokens = read_max_tokens(data)
    completion.temperature = read_number(data, "temperature", 0, 2)
    n = data.get("n")
    if n is not None and n != 1:
        raise BadRequest("Only one choice per request is supported (`n` must be 1).", param="n")
    return completion


def read_message(completion, message, param):
    if not isinstance(message, dict):
        raise BadRequest("Each message must be an object with `role` and `content`.", param=param)
    role = message.get("role")
    if role in IGNORED_ROLES:
        return
    if role not in SPOKEN_ROLES:
        raise BadRequest(
            f"Unsupported role {role!r}: messages may be from `system`, `user` or `assistant`.", param=f"{param}.role"
        )
    text, pictures = read_content(message.get("content"), role, f"{param}.content")
    if role == "user":
        try:
            text = validate_text(text)
        except ChatError as error:
            raise BadRequest(str(error), param=f"{param}.content") from None
    elif not text.strip():
        return  # an assistant turn with no text (a tool call) adds nothing to the history
    elif len(text) > settings.MAX_MESSAGE_CHARS:
        raise BadRequest(
            f"The message is too long ({len(text)} characters; the limit is {settings.MAX_MESSAGE_CHARS}).",
            param=f"{param}.content",
        )
    if pictures:
        completion.images[len(completion.turns)] = pictures
    completion.turns.append((role, text))


def read_content(content, role, param):
    """(text, [(param, image bytes)]) of a message's content: a string or a list of parts."""
    if isinstance(content, str):
        return content, []
    if content is None and role == "assistant":
        return "", []
    if not isinstance(content, list):
        raise BadRequest("`content` must be a string or an array of content parts.", param=param)
    texts, pictures = [], []
    for position, part in enumerate(content):
        where = f"{param}[{position}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind == "image_url" and role == "user":
            pictures.append((f"{where}.image_url", read_image(part.get("image_url"), f"{where}.image_url")))
        elif kind == "image_url":
            raise BadRequest("Only the user's messages may carry images.", param=where)
        else:
            raise BadRequest(
                f"Unsupported content part {kind!r}: parts may be `text` or `image_url` (data: URIs).", param=where
            )
    return "\n\n".join(texts), pictures


def read_image(image_url, param):
    url = image_url.get("url") if isinstance(image_url, dict) else image_url
    if not isinstance(url, str) or not url:
        raise BadRequest("An `image_url` part needs a `url`.", param=param)
    if not url.startswith("data:"):
        raise BadRequest(
            "Images must be sent inline as data: URIs (data:image/png;base64,…); this server does not fetch URLs.",
            param=param,
            code="invalid_image_url",
        )
    header, comma, payload = url.partition(",")
    if not comma or not header.endswith(";base64"):
        raise BadRequest("An image data: URI must be base64-encoded (data:image/png;base64,…).", param=param)
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("The image data: URI is not valid base64.", param=param, code="invalid_image") from None


def read_flag(data, name, param=None):
    value = data.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise BadRequest(f"`{param or name}` must be true or false.", param=param or name)
    return value


def read_max_tokens(data):
    # `max_completion_tokens` is the newer name of the same limit.
    name = "max_completion_tokens" if data.get("max_completion_tokens") is not None else "max_tokens"
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadRequest(f"`{name}` must be a positive integer.", param=name)
    return value


def read_number(data, name, low, high):
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise BadRequest(f"`{name}` must be a number from {low} to {high}.", param=name)
    return float(value)
