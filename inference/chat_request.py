"""Validation of ``POST /v1/chat/completions`` bodies into a typed request.

Unknown fields are ignored, as OpenAI-compatible servers do, so SDKs that send extra
fields (``user``, ``metadata``...) keep working. Fields this engine cannot honour in a
meaningful way (``n`` > 1, audio parts) are refused instead of silently ignored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .errors import APIError, invalid
from .images import ImageInput, decode_image_url

ROLES = {"system", "developer", "user", "assistant", "tool"}
MAX_STOP_SEQUENCES = 4
MAX_IMAGES = 8
# A tiny model loops easily; a mild penalty keeps answers from repeating one phrase.
DEFAULT_REPEAT_PENALTY = 1.15


@dataclass
class ChatMessage:
    role: str
    parts: list[str | ImageInput]


@dataclass
class ChatRequest:
    model: str
    messages: list[ChatMessage]
    stream: bool = False
    include_usage: bool = False
    max_tokens: int | None = None
    temperature: float = 0.7
    top_p: float = 0.95
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    repeat_penalty: float = DEFAULT_REPEAT_PENALTY
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    ignore_eos: bool = False

    @property
    def images(self) -> list[ImageInput]:
        return [part for message in self.messages for part in message.parts if isinstance(part, ImageInput)]


def parse_chat_request(payload: object, *, served_model: str) -> ChatRequest:
    if not isinstance(payload, dict):
        raise invalid("The request body must be a JSON object.")

    model = payload.get("model")
    if model is None:
        model = served_model
    elif not isinstance(model, str):
        raise invalid("model must be a string.", param="model")
    elif model != served_model:
        raise APIError(
            404,
            f"The model `{model}` does not exist. This service serves `{served_model}`.",
            param="model",
            code="model_not_found",
        )

    request = ChatRequest(model=model, messages=_messages(payload.get("messages")))
    if len(request.images) > MAX_IMAGES:
        raise invalid(f"At most {MAX_IMAGES} images per request are accepted.", param="messages")

    n = payload.get("n")
    if n is not None and n != 1:
        raise invalid("Only n=1 is supported.", param="n")

    request.stream = _bool(payload, "stream", False)
    options = payload.get("stream_options")
    if options is not None:
        if not isinstance(options, dict):
            raise invalid("stream_options must be an object.", param="stream_options")
        if not request.stream:
            raise invalid("stream_options is only allowed when stream is true.", param="stream_options")
        request.include_usage = _bool(options, "include_usage", False, prefix="stream_options.")

    # max_completion_tokens is the newer OpenAI name; vLLM accepts both.
    for name in ("max_completion_tokens", "max_tokens"):
        value = payload.get(name)
        if value is not None:
            if not _is_int(value) or value < 1:
                raise invalid(f"{name} must be a positive integer.", param=name)
            request.max_tokens = value
            break

    request.temperature = _number(payload, "temperature", request.temperature, low=0.0, high=2.0)
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
            raise invalid("seed must be an integer.", param="seed")
        request.seed = seed & 0xFFFFFFFF

    request.stop = _stop(payload.get("stop"))
    return request


def _messages(value: object) -> list[ChatMessage]:
    if not isinstance(value, list) or not value:
        raise invalid("messages must be a non-empty array.", param="messages")
    messages = []
    for i, raw in enumerate(value):
        where = f"messages[{i}]"
        if not isinstance(raw, dict):
            raise invalid(f"{where} must be an object.", param=where)
        role = raw.get("role")
        if role not in ROLES:
            raise invalid(
                f"{where}.role must be one of {', '.join(sorted(ROLES))}.", param=f"{where}.role"
            )
        if role == "developer":
            role = "system"
        messages.append(ChatMessage(role=role, parts=_parts(raw.get("content"), role, f"{where}.content")))
    return messages


def _parts(content: object, role: str, where: str) -> list[str | ImageInput]:
    if isinstance(content, str):
        return [content]
    if content is None and role == "assistant":
        # Assistant turns that only carried tool calls have no content.
        return []
    if not isinstance(content, list):
        raise invalid(f"{where} must be a string or an array of content parts.", param=where)
    parts: list[str | ImageInput] = []
    for j, part in enumerate(content):
        here = f"{where}[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            parts.append(part["text"])
        elif kind == "image_url" and role == "user":
            image_url = part.get("image_url")
            url = image_url.get("url") if isinstance(image_url, dict) else image_url
            parts.append(decode_image_url(url, param=f"{here}.image_url.url"))
        elif kind == "image_url":
            raise invalid("Images are only accepted in user messages.", param=here)
        else:
            raise invalid(
                f"{here} must be a text part or an image_url part; got type {kind!r}.", param=here
            )
    return parts


def _stop(value: object) -> list[str]:
    if value is None:
        return []
    stops = [value] if isinstance(value, str) else value
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
        raise invalid("stop must be a non-empty string or an array of them.", param="stop")
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
        raise invalid(f"{prefix}{name} must be a boolean.", param=prefix + name)
    return value


def _number(
    source: dict, name: str, default: float, *, low: float, high: float, low_open: bool = False
) -> float:
    value = source.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise invalid(f"{name} must be a number.", param=name)
    too_low = value <= low if low_open else value < low
    if too_low or value > high:
        bound = f"greater than {low}" if low_open else f"at least {low}"
        raise invalid(f"{name} must be {bound} and at most {high}.", param=name)
    return float(value)
