"""OpenAI-compatible HTTP API over the engine, imitating vLLM's wire format."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from sse_starlette import EventSourceResponse
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .chat_request import ChatRequest, parse_chat_request, read_json_body
from .embeddings import Encoder, SentenceEncoder, embeddings_handler
from .engine import (
    Engine,
    Failed,
    Finished,
    Generation,
    PromptTooLong,
    QueueFull,
    SamplingParams,
    Started,
    Text,
)
from .errors import APIError, error_body, invalid
from .images import ImageReader, check_declared_size
from .prompt import text_messages

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 32 * 1024 * 1024
# A reader that stops reading is noticed when the socket buffers fill and a send
# blocks this long; a reader that closes the connection is noticed at once.
SEND_TIMEOUT_S = 5.0
DEFAULT_TEMPERATURE = 0.7


def create_app(
    engine: Engine,
    *,
    api_key: str | None = None,
    image_reader: ImageReader | None = None,
    encoder: Encoder | None = None,
) -> Starlette:
    reader = image_reader or ImageReader()
    # Loaded on the first embeddings request: a chat-only deployment never pays for it.
    encoder = encoder or SentenceEncoder()

    def authorize(request: Request) -> None:
        if api_key and request.headers.get("authorization") != f"Bearer {api_key}":
            raise APIError(401, "Invalid or missing API key.", type="authentication_error", code="invalid_api_key")

    async def health(request: Request) -> Response:
        return JSONResponse(
            {"status": "ok", "model": engine.model_name, "context_length": engine.n_ctx, **engine.status()}
        )

    async def models(request: Request) -> Response:
        authorize(request)
        return JSONResponse(
            {
                "object": "list",
                "data": [
                    {
                        "id": engine.model_name,
                        "object": "model",
                        "created": started_at,
                        "owned_by": "local",
                        "max_model_len": engine.n_ctx,
                        # Images are accepted but read through OCR, not seen.
                        "capabilities": {"vision": False, "ocr": True},
                    }
                ],
            }
        )

    async def last_prompt(request: Request) -> Response:
        prompt = engine.last_prompt
        if prompt is None:
            return JSONResponse({"prompt": None, "prompt_tokens": 0})
        return JSONResponse({"prompt": prompt.text, "prompt_tokens": len(prompt.tokens)})

    async def chat_completions(request: Request) -> Response:
        authorize(request)
        chat = parse_chat_request(await _json_body(request), served_model=engine.model_name)
        try:
            # Refuse before spending seconds of OCR on a request that could not wait anyway.
            engine.ensure_room()
            for image in chat.images:
                check_declared_size(image)
            descriptions = [await asyncio.to_thread(reader.describe, image) for image in chat.images]
            try:
                # In a thread: tokenizing a many-megabyte message would stall every stream.
                prompt = await asyncio.to_thread(engine.render_prompt, text_messages(chat.messages, descriptions))
            except ValueError as exc:
                raise invalid(f"The messages do not fit the model's chat template: {exc}", param="messages") from None
            try:
                max_tokens = engine.check_fits(prompt, chat.max_tokens)
            except PromptTooLong as exc:
                raise invalid(str(exc), param="messages", code="context_length_exceeded") from None
            generation = engine.submit(prompt, _sampling(chat, max_tokens))
        except QueueFull as exc:
            raise APIError(
                503,
                "The model service is busy: too many requests are waiting. Retry shortly.",
                type="server_error",
                code="queue_full",
                headers={"Retry-After": str(exc.retry_after)},
            ) from None

        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        if chat.stream:
            return EventSourceResponse(
                _stream(generation, chat, completion_id, created),
                sep="\n",
                send_timeout=SEND_TIMEOUT_S,
            )
        return await _complete(request, generation, chat, completion_id, created)

    async def handle_api_error(request: Request, exc: APIError) -> Response:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    async def handle_http_error(request: Request, exc: HTTPException) -> Response:
        kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        return JSONResponse(error_body(str(exc.detail), type=kind), status_code=exc.status_code, headers=exc.headers)

    async def handle_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(error_body("Internal server error.", type="server_error"), status_code=500)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        # Unblocks any request still waiting on the engine.
        await asyncio.to_thread(engine.close)

    started_at = int(time.time())
    # Starlette's type names one handler signature for every exception class.
    handlers: dict[Any, Any] = {
        APIError: handle_api_error,
        HTTPException: handle_http_error,
        Exception: handle_unexpected,
    }
    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/embeddings", embeddings_handler(encoder, authorize, _json_body), methods=["POST"]),
    ]
    if engine.record_prompts:
        routes.append(Route("/debug/last-prompt", last_prompt, methods=["GET"]))
    return Starlette(
        routes=routes,
        exception_handlers=handlers,
        lifespan=lifespan,
        max_body_size=MAX_BODY_BYTES,
    )


async def _json_body(request: Request) -> object:
    body = await request.body()  # size capped by the app's max_body_size (413)
    return read_json_body(body)


def _sampling(chat: ChatRequest, max_tokens: int) -> SamplingParams:
    return SamplingParams(
        max_tokens=max_tokens,
        temperature=DEFAULT_TEMPERATURE if chat.temperature is None else chat.temperature,
        top_p=chat.top_p,
        stop=tuple(chat.stop),
        seed=chat.seed,
        repeat_penalty=chat.repeat_penalty,
        frequency_penalty=chat.frequency_penalty,
        presence_penalty=chat.presence_penalty,
        ignore_eos=chat.ignore_eos,
    )


def _usage(event: Finished) -> dict:
    return {
        "prompt_tokens": event.prompt_tokens,
        "completion_tokens": event.completion_tokens,
        "total_tokens": event.prompt_tokens + event.completion_tokens,
    }


def _dump(payload: dict) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


async def _stream(generation: Generation, chat: ChatRequest, completion_id: str, created: int) -> AsyncIterator[dict]:
    def chunk(choices: list, **extra: object) -> dict:
        body = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": chat.model,
            "choices": choices,
            **extra,
        }
        return {"data": _dump(body)}

    def choice(delta: dict, finish_reason: str | None = None) -> list:
        return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]

    try:
        async for event in generation.events():
            if isinstance(event, Started):
                # Sent when generation starts, not when queued, as vLLM does.
                yield chunk(choice({"role": "assistant", "content": ""}))
            elif isinstance(event, Text):
                yield chunk(choice({"content": event.text}))
            elif isinstance(event, Finished):
                yield chunk(choice({}, event.reason))
                if chat.include_usage:
                    yield chunk([], usage=_usage(event))
            elif isinstance(event, Failed):
                yield {"data": _dump(error_body(event.message, type="server_error", code="generation_failed"))}
        yield {"data": "[DONE]"}
    finally:
        # Runs when the client disconnects too (the response cancels this generator).
        generation.cancel()


async def _complete(
    request: Request, generation: Generation, chat: ChatRequest, completion_id: str, created: int
) -> Response:
    async def collect() -> Response:
        parts: list[str] = []
        async for event in generation.events():
            if isinstance(event, Text):
                parts.append(event.text)
            elif isinstance(event, Failed):
                return JSONResponse(
                    error_body(event.message, type="server_error", code="generation_failed"), status_code=500
                )
            elif isinstance(event, Finished):
                return JSONResponse(
                    {
                        "id": completion_id,
                        "object": "chat.completion",
                        "created": created,
                        "model": chat.model,
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": "".join(parts)},
                                "logprobs": None,
                                "finish_reason": event.reason,
                            }
                        ],
                        "usage": _usage(event),
                    }
                )
        raise RuntimeError("generation ended without a result")

    async def client_left() -> None:
        # The body has been read, so the next ASGI message is the disconnect.
        while (await request.receive())["type"] != "http.disconnect":
            pass

    collecting = asyncio.create_task(collect())
    watching = asyncio.create_task(client_left())
    try:
        await asyncio.wait({collecting, watching}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watching.cancel()
        if not collecting.done():
            collecting.cancel()
            generation.cancel()
    if collecting.cancelled():
        # Nobody is there to read a response; uvicorn discards it.
        return Response(status_code=499)
    return collecting.result()
