"""Async client for any OpenAI-compatible chat endpoint (this service, vLLM, hosted APIs).

Every failure surfaces as ``InferenceError`` (or its subclass ``InferenceUnavailable``
for "try again later" conditions) whose ``reason`` is a short sentence fit to show to
an end user; callers need not know httpx's exception zoo.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import TypedDict

import httpx
from httpx_sse import SSEError, aconnect_sse

UNREACHABLE = "The model service is unreachable."
BUSY = "The model service is busy right now; please try again in a moment."
STOPPED_RESPONDING = "The model service stopped responding."
CLOSED_MID_ANSWER = "The model service closed the connection mid-answer."
CLOSED_BEFORE_ANSWER = "The model service closed the connection before answering."
UNFINISHED = "The model service ended the answer without finishing it."
MODEL_MISSING = "The model service does not serve this model yet (it may still be loading)."
NO_FIRST_TOKEN = "The model service did not start the answer in time."
MALFORMED = "The model service sent a malformed event."
UNREADABLE = "The model service sent an unreadable reply."
# Finish reasons that mean the text is complete as far as the model is concerned.
FINISHED_NORMALLY = {"stop", "length", "tool_calls", "content_filter", "function_call"}
MAX_MESSAGE_CHARS = 300


@dataclass
class StreamEvent:
    delta: str = ""  # text to append (may be "")
    finish_reason: str | None = None
    usage: dict | None = None  # {"prompt_tokens", "completion_tokens", "total_tokens"} when sent


# vLLM: "... This model's maximum context length is 32768 tokens and your request has 33012 input tokens ..."
CONTEXT_LENGTH = re.compile(r"maximum context length is (\d+) tokens", re.IGNORECASE)
INPUT_TOKENS = re.compile(r"(\d+) (?:input|prompt) tokens|messages resulted in (\d+) tokens", re.IGNORECASE)


class InferenceError(Exception):
    """The model service could not produce (all of) an answer.

    ``reason`` is a short sentence for end users; ``status_code``, ``code`` (the
    OpenAI error code, e.g. ``context_length_exceeded``) and ``detail`` (the
    service's own message) are there for callers that want to react, e.g. by
    trimming history.
    """

    def __init__(
        self,
        reason: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
        timed_out: bool = False,
        detail: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.timed_out = timed_out
        self.status_code = status_code
        self.code = code
        self.retry_after = retry_after
        self.detail = detail or ""

    @property
    def context_too_long(self) -> bool:
        """The request did not fit the model's context (vLLM and this service answer 400 so)."""
        if self.status_code != 400:
            return False
        return self.code == "context_length_exceeded" or bool(CONTEXT_LENGTH.search(self.detail))

    @property
    def counted_prompt_tokens(self) -> int | None:
        """The prompt's length as the service counted it, when its message says."""
        found = INPUT_TOKENS.search(self.detail)
        return int(found.group(1) or found.group(2)) if found else None


class InferenceUnavailable(InferenceError):
    """Could not connect, the service is busy (503/429), or it timed out before any text."""


def _headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def _endpoint(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + path


def _error_message(response: httpx.Response) -> tuple[str | None, str | None]:
    """The (message, code) an error body carries, in any of the common shapes."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        text = response.text.strip() if response.content else ""
        return (text[:MAX_MESSAGE_CHARS] or None), None
    return _message_from(body)


def _message_from(body: object) -> tuple[str | None, str | None]:
    if not isinstance(body, dict):
        return None, None
    error = body.get("error", body)
    if isinstance(error, str):
        return error[:MAX_MESSAGE_CHARS], None
    if not isinstance(error, dict):
        return None, None
    message = error.get("message") or error.get("detail")
    code = error.get("code")
    return (str(message)[:MAX_MESSAGE_CHARS] if message else None), (str(code) if code is not None else None)


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["retry-after"])
    except (KeyError, ValueError):
        return None


class _Details(TypedDict):
    status_code: int
    code: str | None
    detail: str | None


def _status_error(response: httpx.Response, *, not_found_is_model: bool = False) -> InferenceError:
    status = response.status_code
    message, code = _error_message(response)
    details: _Details = {"status_code": status, "code": code, "detail": message}
    if status in (429, 503):
        return InferenceUnavailable(BUSY, retry_after=_retry_after(response), **details)
    if status in (502, 504):
        return InferenceUnavailable(UNREACHABLE, **details)
    if status == 404 and not_found_is_model:
        # A server that restarted with its model still loading, or behind a
        # proxy that routes per model, answers 404 for the model for a while.
        return InferenceUnavailable(MODEL_MISSING, **details)
    if status in (401, 403):
        return InferenceError("The model service rejected our API key.", **details)
    if status >= 500:
        suffix = f": {message}" if message else f" (HTTP {status})."
        return InferenceError(f"The model service failed{suffix}", **details)
    suffix = f": {message}" if message else f" (HTTP {status})."
    return InferenceError(f"The model service refused the request{suffix}", **details)


def _timeout(connect_timeout: float, read_timeout: float) -> httpx.Timeout:
    return httpx.Timeout(read_timeout, connect=connect_timeout, pool=connect_timeout)


def _events_from_chunk(data: str) -> list[StreamEvent]:
    try:
        chunk = json.loads(data)
    except ValueError:
        chunk = None
    if not isinstance(chunk, dict):
        raise InferenceError(UNREADABLE)
    # vLLM reports failures after the stream began as an error chunk on a 200.
    if "error" in chunk or chunk.get("object") == "error":
        message, code = _message_from(chunk)
        reason = "The model service failed mid-answer"
        raise InferenceError(f"{reason}: {message}" if message else f"{reason}.", code=code, detail=message)
    events = []
    choices = chunk.get("choices") or []
    if not isinstance(choices, list) or not all(isinstance(choice, dict) for choice in choices):
        raise InferenceError(MALFORMED)
    for choice in choices:
        given = choice.get("delta") or {}
        content = given.get("content") if isinstance(given, dict) else None
        finish_reason = choice.get("finish_reason")
        # Checked here, at the edge: a number where text belongs must end this
        # answer, not reach the code that joins every answer's text.
        if not isinstance(given, dict) or not isinstance(content, str | None):
            raise InferenceError(MALFORMED)
        if not isinstance(finish_reason, str | None):
            raise InferenceError(MALFORMED)
        delta = content or ""
        if finish_reason is not None and finish_reason not in FINISHED_NORMALLY:
            # vLLM's "abort" / "error": the answer was cut off server-side.
            raise InferenceError(UNFINISHED, code=str(finish_reason))
        if delta or finish_reason:
            events.append(StreamEvent(delta=delta, finish_reason=finish_reason))
    if chunk.get("usage"):
        if not isinstance(chunk["usage"], dict):
            raise InferenceError(MALFORMED)
        events.append(StreamEvent(usage=chunk["usage"]))
    return events


async def stream_chat_completion(
    client: httpx.AsyncClient,
    *,
    base_url: str,
    api_key: str,
    model: str,
    messages: list[dict],
    max_tokens: int,
    temperature: float,
    stop: list[str] | None = None,
    connect_timeout: float = 5.0,
    read_timeout: float = 20.0,
    first_token_timeout: float | None = None,
    extra_body: dict | None = None,
) -> AsyncGenerator[StreamEvent, None]:
    """Stream one chat completion as ``StreamEvent``s.

    Yields text deltas, then an event with ``finish_reason``, then (when the server
    sends it) one with ``usage``. Raises InferenceError if the answer cannot be
    completed; text yielded before that is a partial answer. Closing the generator
    early closes the HTTP response, which the server sees as a disconnect.
    ``extra_body`` adds server-specific fields (vLLM's ``repetition_penalty``,
    ``seed``...), like the OpenAI SDK's argument of that name.

    Two waits are bounded apart: ``first_token_timeout`` until the first text
    (vLLM sends nothing, not even headers, while a request is queued behind
    others, so this one is long), then ``read_timeout`` between two chunks.
    """
    payload: dict = {
        "model": model,
        "messages": messages,
        "max_tokens": max_tokens,
        "temperature": temperature,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if stop:
        payload["stop"] = stop
    if extra_body:
        payload.update(extra_body)
    first_wait = max(first_token_timeout or read_timeout, read_timeout)

    got_text = False
    finished = False
    done = False
    try:
        async with aconnect_sse(
            client,
            "POST",
            _endpoint(base_url, "/chat/completions"),
            json=payload,
            headers=_headers(api_key),
            # httpx's read timeout covers the wait for the headers; the silence
            # between chunks is bounded below, per chunk.
            timeout=_timeout(connect_timeout, first_wait),
        ) as source:
            if source.response.status_code >= 400:
                await source.response.aread()
                raise _status_error(source.response, not_found_is_model=True)
            async with contextlib.aclosing(source.aiter_sse()) as events:
                while True:
                    # Before the first text (a role-only chunk is not text) the long wait applies.
                    try:
                        async with asyncio.timeout(read_timeout if got_text or finished else first_wait):
                            sse = await anext(events)
                    except StopAsyncIteration:
                        break
                    except TimeoutError:
                        raise httpx.ReadTimeout("no chunk in time") from None
                    if sse.data == "[DONE]":
                        done = True
                        break
                    if not sse.data:
                        continue
                    for event in _events_from_chunk(sse.data):
                        got_text = got_text or bool(event.delta)
                        finished = finished or event.finish_reason is not None
                        yield event
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol):
        raise InferenceUnavailable(UNREACHABLE) from None
    except httpx.ReadTimeout:
        if finished:
            return  # only the usage chunk or [DONE] went missing; the answer is whole
        if got_text:
            raise InferenceError(STOPPED_RESPONDING, timed_out=True) from None
        raise InferenceUnavailable(NO_FIRST_TOKEN, timed_out=True) from None
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.WriteTimeout):
        if finished:
            return
        if got_text:
            raise InferenceError(CLOSED_MID_ANSWER) from None
        raise InferenceUnavailable(CLOSED_BEFORE_ANSWER) from None
    except SSEError:
        raise InferenceError("The model service did not answer with an event stream.") from None
    except httpx.HTTPError as exc:
        raise InferenceError(f"The request to the model service failed ({type(exc).__name__}).") from None

    if not finished:
        # No finish_reason: the stream was cut (a dropped connection that still ended
        # cleanly at the HTTP level, or a server that aborted the request).
        raise InferenceError(UNFINISHED if done else CLOSED_MID_ANSWER)


async def count_prompt_tokens(
    client: httpx.AsyncClient,
    *,
    base_url: str,
    api_key: str,
    model: str,
    messages: list[dict],
    timeout: float = 5.0,
    extra_body: dict | None = None,
) -> int | None:
    """The prompt's exact length in tokens, from vLLM's ``POST /tokenize``; None where there is none.

    vLLM serves it beside ``/v1``, with the same chat template as the answer
    (images included), so the count is the one its context check uses. Any
    failure is None: the caller falls back on its estimate.
    """
    root = base_url.rstrip("/").removesuffix("/v1")
    body: dict[str, object] = {"model": model, "messages": messages, **(extra_body or {})}
    try:
        response = await client.post(
            root + "/tokenize", json=body, headers=_headers(api_key), timeout=_timeout(timeout, timeout)
        )
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    try:
        count = response.json().get("count")
    except (ValueError, AttributeError):
        return None
    return count if isinstance(count, int) and not isinstance(count, bool) else None


async def _get_json(
    client: httpx.AsyncClient, method: str, url: str, *, api_key: str, timeout: httpx.Timeout, json_body: object = None
) -> object:
    try:
        response = await client.request(method, url, headers=_headers(api_key), json=json_body, timeout=timeout)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol):
        raise InferenceUnavailable(UNREACHABLE) from None
    except httpx.TimeoutException:
        raise InferenceUnavailable(STOPPED_RESPONDING) from None
    except httpx.HTTPError:
        raise InferenceUnavailable(CLOSED_BEFORE_ANSWER) from None
    if response.status_code >= 400:
        raise _status_error(response)
    try:
        return response.json()
    except ValueError:
        raise InferenceError(UNREADABLE) from None


async def chat_completion(
    client: httpx.AsyncClient,
    *,
    base_url: str,
    api_key: str,
    model: str,
    messages: list[dict],
    max_tokens: int,
    temperature: float,
    timeout: float = 10.0,
    extra_body: dict | None = None,
) -> str:
    """One chat completion, not streamed: the answer's text ("" when it has none), for short requests such as a title.

    Failures raise InferenceError, as ``stream_chat_completion``'s do.
    """
    payload: dict[str, object] = {
        "model": model,
        "messages": messages,
        "max_tokens": max_tokens,
        "temperature": temperature,
        "stream": False,
        **(extra_body or {}),
    }
    body = await _get_json(
        client,
        "POST",
        _endpoint(base_url, "/chat/completions"),
        api_key=api_key,
        timeout=_timeout(timeout, timeout),
        json_body=payload,
    )
    choices = body.get("choices") if isinstance(body, dict) else None
    first = choices[0] if isinstance(choices, list) and choices else None
    message = first.get("message") if isinstance(first, dict) else None
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(message, dict) or not isinstance(content, str | None):
        raise InferenceError(UNREADABLE)
    return content or ""


async def list_models(client: httpx.AsyncClient, *, base_url: str, api_key: str, timeout: float = 10.0) -> list[dict]:
    """``GET {base_url}/models`` → the ``data`` list (each has at least ``id``)."""
    body = await _get_json(
        client, "GET", _endpoint(base_url, "/models"), api_key=api_key, timeout=_timeout(timeout, timeout)
    )
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise InferenceError("The model service sent an unreadable model list.")
    return [entry for entry in data if isinstance(entry, dict)]


async def embeddings(
    client: httpx.AsyncClient,
    *,
    base_url: str,
    api_key: str,
    model: str,
    inputs: list[str],
    timeout: float = 30.0,
    batch_size: int = 32,
) -> list[list[float]]:
    """``POST {base_url}/embeddings``: one vector per input, in input order.

    Inputs go in batches of `batch_size`: embedding servers cap a request's
    inputs (Hugging Face TEI's default --max-client-batch-size is 32).
    Endpoints without embeddings (like this CPU service) answer 404, raised as
    an InferenceError with ``status_code == 404``.
    """
    vectors: list[list[float]] = []
    for start in range(0, len(inputs), max(1, batch_size)):
        batch = inputs[start : start + max(1, batch_size)]
        body = await _get_json(
            client,
            "POST",
            _endpoint(base_url, "/embeddings"),
            api_key=api_key,
            timeout=_timeout(min(timeout, 10.0), timeout),
            json_body={"model": model, "input": batch},
        )
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or len(data) != len(batch):
            raise InferenceError("The model service sent unreadable embeddings.")
        ordered = sorted(data, key=lambda item: item.get("index", 0))
        vectors.extend(list(item["embedding"]) for item in ordered)
    return vectors
