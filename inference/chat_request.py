"""Validation of ``POST /v1/chat/completions`` bodies into a typed request.

The one reader of OpenAI chat requests: the inference service and the chat's
OpenAI-compatible API (``chatapp.api``) both use it, so a request means the same
thing, and gets the same error, wherever it is sent.

Unknown fields are ignored, as OpenAI-compatible servers do, so SDKs that send extra
fields (``user``, ``metadata``...) keep working. Fields this engine cannot honour in a
meaningful way (``n`` > 1, audio parts) are refused instead of silently ignored.
Images are checked here only as far as that costs nothing: they are decoded later,
by whoever accepts the request, after its own limits (see ``ImagePart``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection
from dataclasses import dataclass, field

from .errors import APIError, invalid
from .images import ImagePart, image_part

ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
MAX_STOP_SEQUENCES = 4
MAX_IMAGES = 8
# A tiny model loops easily; a mild penalty keeps answers from repeating one phrase.
DEFAULT_REPEAT_PENALTY = 1.15


@dataclass
class ChatMessage:
    role: str
    parts: list[str | ImagePart]

    @property
    def text(self) -> str:
        """The message's text parts, one paragraph each."""
        return "\n\n".join(part for part in self.parts if isinstance(part, str))

    @property
    def images(self) -> list[ImagePart]:
        return [part for part in self.parts if isinstance(part, ImagePart)]


@dataclass
class ChatRequest:
    model: str
    messages: list[ChatMessage]
    stream: bool = False
    include_usage: bool = False
    max_tokens: int | None = None
    # None: the server's (or the bot's) own temperature applies.
    temperature: float | None = None
    top_p: float = 0.95
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    repeat_penalty: float = DEFAULT_REPEAT_PENALTY
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    ignore_eos: bool = False

    @property
    def images(self) -> list[ImagePart]:
        return [image for message in self.messages for image in message.images]


def read_json_body(body: bytes, *, max_bytes: int | None = None) -> object:
    """The JSON value of a request body; a 400 in OpenAI's shape for anything else."""
    if max_bytes is not None and len(body) > max_bytes:
        raise invalid(
            f"The request is too large ({len(body):,} bytes; the limit is {max_bytes:,}).",
            code="request_too_large",
        )
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise invalid(
            "We could not parse the JSON body of your request. The body must be a JSON object "
            "with `model` and `messages`."
        ) from None
    except RecursionError:
        # Python's parser recurses once per nested array or object.
        raise invalid("The JSON body of your request is nested too deeply.") from None


def parse_chat_request(
    payload: object,
    *,
    served_model: str | None,
    roles: Collection[str] = ROLES,
    max_images: int = MAX_IMAGES,
) -> ChatRequest:
    """Check a request body and read it into a ChatRequest; raises APIError.

    With a `served_model`, a missing model means that one and any other is a 404;
    without, `model` is required and the caller decides what it names.
    """
    if not isinstance(payload, dict):
        raise invalid("The request body must be a JSON object with `model` and `messages`.")

    model = payload.get("model")
    if model is None and served_model is not None:
        model = served_model
    elif not isinstance(model, str) or not model:
        raise invalid("You must provide a model parameter (GET /v1/models lists the models).", param="model")
    elif served_model is not None and model != served_model:
        raise APIError(
            404,
            f"The model `{model}` does not exist. This service serves `{served_model}`.",
            param="model",
            code="model_not_found",
        )

    request = ChatRequest(model=model, messages=_messages(payload.get("messages"), roles))
    if len(request.images) > max_images:
        raise invalid(
            f"At most {max_images} images per request are accepted; this one has {len(request.images)}.",
            param="messages",
        )

    n = payload.get("n")
    if n is not None and n != 1:
        raise invalid("Only one choice per request is supported (`n` must be 1).", param="n")

    request.stream = _bool(payload, "stream", False)
    options = payload.get("stream_options")
    if options is not None:
        if not isinstance(options, dict):
            raise invalid("`stream_options` must be an object.", param="stream_options")
        if not request.stream:
            raise invalid("`stream_options` is only allowed when `stream` is true.", param="stream_options")
        request.include_usage = _bool(options, "include_usage", False, prefix="stream_options.")

    # max_completion_tokens is the newer OpenAI name; vLLM accepts both.
    for name in ("max_completion_tokens", "max_tokens"):
        value = payload.get(name)
        if value is not None:
            if not _is_int(value) or value < 1:
                raise invalid(f"`{name}` must be a positive integer.", param=name)
            request.max_tokens = value
            break

    temperature = payload.get("temperature")
    if temperature is not None:
        request.temperature = _number(payload, "temperature", 0.0, low=0.0, high=2.0)
    request.top_p = _number(payload, "top_p", request.top_p, low=0.0, high=1.0, low_open=True)
    request.frequency_penalty = _number(payload, "frequency_penalty", 0.0, low=-2.0, high=2.0)
    request.presence_penalty = _number(payload, "presence_penalty", 0.0, low=-2.0, high=2.0)
    # vLLM's name for llama.cpp's repeat_penalty.
    request.repeat_penalty = _number(
        payload, "repetition_penalty", request.repeat_penalty, low=0.0, high=2.0, low_open=True
    )
    # vLLM extension; lets callers (and tests) ask for a fixed-length generation.
    request.ignore_eos = _bool(payload, "ignore_eos", False)

    seed = payload.get("seed")
    if seed is not None:
        if not _is_int(seed):
            raise invalid("`seed` must be an integer.", param="seed")
        request.seed = seed & 0xFFFFFFFF

    request.stop = _stop(payload.get("stop"))
    return request


def _messages(value: object, roles: Collection[str]) -> list[ChatMessage]:
    if not isinstance(value, list) or not value:
        raise invalid("`messages` must be a non-empty array of messages.", param="messages")
    messages = []
    for i, raw in enumerate(value):
        where = f"messages[{i}]"
        if not isinstance(raw, dict):
            raise invalid("Each message must be an object with `role` and `content`.", param=where)
        role = raw.get("role")
        if not isinstance(role, str) or role not in roles:
            names = ", ".join(f"`{name}`" for name in sorted(roles))
            raise invalid(f"Unsupported role {role!r}: messages may be from {names}.", param=f"{where}.role")
        if role == "developer":
            role = "system"
        messages.append(ChatMessage(role=role, parts=_parts(raw.get("content"), role, f"{where}.content")))
    return messages


def _parts(content: object, role: str, where: str) -> list[str | ImagePart]:
    if isinstance(content, str):
        return [content]
    if content is None and role == "assistant":
        # Assistant turns that only carried tool calls have no content.
        return []
    if not isinstance(content, list):
        raise invalid("`content` must be a string or an array of content parts.", param=where)
    parts: list[str | ImagePart] = []
    for j, part in enumerate(content):
        here = f"{where}[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            parts.append(part["text"])
        elif kind == "image_url" and role == "user":
            image_url = part.get("image_url")
            url = image_url.get("url") if isinstance(image_url, dict) else image_url
            parts.append(image_part(url, param=f"{here}.image_url"))
        elif kind == "image_url":
            raise invalid("Only the user's messages may carry images.", param=here)
        else:
            raise invalid(
                f"Unsupported content part {kind!r}: parts may be `text` or `image_url` (data: URIs).", param=here
            )
    return parts


def _stop(value: object) -> list[str]:
    if value is None:
        return []
    stops = [value] if isinstance(value, str) else value
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
        raise invalid("`stop` must be a non-empty string or an array of them.", param="stop")
    if len(stops) > MAX_STOP_SEQUENCES:
        raise invalid(f"At most {MAX_STOP_SEQUENCES} stop sequences are accepted.", param="stop")
    return list(stops)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _bool(source: dict, name: str, default: bool, *, prefix: str = "") -> bool:
    value = source.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise invalid(f"`{prefix}{name}` must be true or false.", param=prefix + name)
    return value


def _number(source: dict, name: str, default: float, *, low: float, high: float, low_open: bool = False) -> float:
    value = source.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise invalid(f"`{name}` must be a number.", param=name)
    too_low = value <= low if low_open else value < low
    if too_low or value > high:
        if low_open:
            raise invalid(f"`{name}` must be a number greater than {low:g} and at most {high:g}.", param=name)
        raise invalid(f"`{name}` must be a number from {low:g} to {high:g}.", param=name)
    return float(value)
