"""The OpenAI-compatible endpoints: the bots as models, and chat completions.

A completion goes the browser's way: the transcript becomes an API
conversation, the answer is queued for the Celery worker, and the view
follows it on the conversation's channel group, streaming it as server-sent
events or returning it whole.
"""

import time
from collections.abc import AsyncIterator, Callable, Coroutine
from functools import wraps
from typing import cast

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from chatapp.api import actions, shapes
from chatapp.api.answers import AnswerFeed, NoWorker
from chatapp.api.authentication import authenticate
from chatapp.api.completions import Completion, read_completion
from chatapp.api.errors import (
    answer_failed,
    error_response,
    key_withdrawn,
    limit_reached,
    method_not_allowed,
    model_unavailable,
    not_found,
    rate_limited,
    unknown_model,
)
from chatapp.api.models import ApiToken
from chatapp.api.throttle import throttle
from chatapp.chat import quotas
from chatapp.chat.actions import resolve_bot
from chatapp.chat.errors import ChatError, NotFound
from chatapp.chat.models import Bot, Message, answer_token_limit
from inference.errors import APIError, invalid

# An async view, as the URLconf takes it.
AsyncView = Callable[..., Coroutine[object, None, HttpResponseBase]]


def api_endpoint(*methods: str) -> Callable[[AsyncView], AsyncView]:
    """Token authentication, the per-token rate limit, and errors in OpenAI's shape."""

    def decorate(view: AsyncView) -> AsyncView:
        @csrf_exempt
        @wraps(view)
        async def endpoint(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponseBase:
            try:
                if request.method not in methods:
                    raise method_not_allowed(cast(str, request.method), methods)
                token = await authenticate(request)
                wait = await throttle().allow(token)
                if wait is not None:
                    raise rate_limited(throttle().rate, wait)
                await quotas.ahit("api", token.user_id)
                return await view(request, token, *args, **kwargs)
            except quotas.LimitReached as refusal:
                return error_response(limit_reached(refusal))
            except APIError as error:
                return error_response(error)

        return endpoint

    return decorate


@api_endpoint("GET")
async def models(request: HttpRequest, token: ApiToken) -> JsonResponse:
    bots = await database_sync_to_async(list)(Bot.objects.visible_to(token.user))
    return JsonResponse(shapes.model_list(bots))


@api_endpoint("GET")
async def model(request: HttpRequest, token: ApiToken, model_id: str) -> JsonResponse:
    bot = await database_sync_to_async(Bot.objects.visible_to(token.user).filter(slug=model_id).first)()
    if bot is None:
        raise unknown_model(model_id)
    return JsonResponse(shapes.model_object(bot))


def _read_request(request: HttpRequest) -> Completion:
    return read_completion(request.read(settings.API_MAX_REQUEST_BYTES + 1))


def _failure(feed: AnswerFeed) -> APIError:
    assert feed.finished is not None  # called once the answer ended
    return (model_unavailable if feed.unavailable else answer_failed)(feed.finished.error)


@api_endpoint("POST")
async def chat_completions(request: HttpRequest, token: ApiToken) -> HttpResponseBase:
    # Read here rather than through request.body, whose limit is the one for
    # browser uploads (a data: URI is a third larger than its image), and off
    # the event loop: decoding megabytes of JSON and base64 takes a while.
    completion = await sync_to_async(_read_request)(request)
    try:
        bot = await database_sync_to_async(resolve_bot)(token.user, completion.model)
        reply = await database_sync_to_async(actions.start_completion)(token, completion, bot)
    except NotFound:
        raise unknown_model(completion.model) from None
    except quotas.LimitReached:
        raise  # a 429, from api_endpoint
    except ChatError as error:
        raise invalid(str(error), param="messages") from None
    answer = shapes.Completion(
        reply,
        completion.model,
        time.time(),
        answer_token_limit(bot, completion.request.max_tokens),
        request.build_absolute_uri,
    )
    feed = AnswerFeed(token.user, reply)
    streaming = False
    await feed.open()
    try:
        deltas = feed.deltas()
        # Nothing is sent before the first text: a failure before it still
        # gets its own status code, even for a stream.
        first = await anext(deltas, "")
        if not completion.request.stream:
            async for _ in deltas:
                pass
            assert feed.finished is not None  # the feed ends with the saved answer
            if feed.finished.status == Message.Status.ERROR:
                raise _failure(feed)
            return JsonResponse(answer.whole(feed.finished))
        if feed.finished is not None and feed.finished.status == Message.Status.ERROR and not feed.text:
            raise _failure(feed)
        streaming = True
        response = StreamingHttpResponse(
            server_sent_events(feed, deltas, first, answer, completion.request.include_usage, token),
            content_type="text/event-stream",
        )
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"  # no proxy buffering of the stream
        return response
    except NoWorker as error:
        raise model_unavailable(str(error)) from None
    finally:
        if not streaming:
            # Also reached when the client hangs up while waiting (the view is cancelled).
            await feed.stop()
            await feed.close()


def _token_active(token_id: int) -> bool:
    return ApiToken.objects.active().filter(pk=token_id).exists()


async def server_sent_events(
    feed: AnswerFeed,
    deltas: AsyncIterator[str],
    first: str,
    answer: shapes.Completion,
    include_usage: bool,
    token: ApiToken,
) -> AsyncIterator[str]:
    try:
        yield shapes.event(answer.chunk({"role": "assistant", "content": ""}, with_usage=include_usage))
        # A link split across two chunks stays as written (relative).
        if first:
            content = shapes.absolute_links(first, answer.absolute)
            yield shapes.event(answer.chunk({"content": content}, with_usage=include_usage))
        checked = time.monotonic()
        async for delta in deltas:
            content = shapes.absolute_links(delta, answer.absolute)
            yield shapes.event(answer.chunk({"content": content}, with_usage=include_usage))
            # A token revoked (or its user deactivated) ends its streams too, not only its next request.
            if time.monotonic() - checked >= settings.API_TOKEN_RECHECK_SECONDS:
                checked = time.monotonic()
                if not await database_sync_to_async(_token_active)(token.pk):
                    yield shapes.event(key_withdrawn().body())
                    yield shapes.DONE
                    return  # the answer is stopped below
        reply = feed.finished
        assert reply is not None  # the feed ends with the saved answer
        if reply.status == Message.Status.ERROR:
            # As vLLM does once a stream has begun: an error event, then the end.
            yield shapes.event(_failure(feed).body())
        else:
            finish = shapes.finish_reason(reply, answer.max_tokens)
            yield shapes.event(answer.chunk({}, finish, with_usage=include_usage, **answer.extras(reply)))
            if include_usage:
                yield shapes.event(answer.usage_chunk(reply))
        yield shapes.DONE
    finally:
        # A client that hangs up mid-answer ends it: nobody else is reading.
        await feed.stop()
        await feed.close()


@csrf_exempt
async def unknown_endpoint(request: HttpRequest, path: str = "") -> JsonResponse:
    return error_response(not_found(request.path))
