"""The worker side of an answer: stream it from the model to every listener.

One call of `stream_reply` runs on its own event loop in a Celery worker
thread. Tokens are coalesced: listeners get one chunk per STREAM_FLUSH_INTERVAL
(not one per token), each numbered and logged in Redis so that a client can
resume after any chunk; the database gets the partial text every
STREAM_SAVE_INTERVAL and everything at the end.
"""

import asyncio
import logging
import ssl
import time

import httpx
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection

from chatapp.chat.events import chunk_event, conversation_group, message_event
from chatapp.chat.live import AsyncLive
from chatapp.chat.models import Message
from chatapp.chat.prompt import build_request
from chatapp.chat.rendering import render_markdown
from chatapp.faq.grounding import mark_cited
from chatapp.images.actions import record_left_out
from inference.client import InferenceError, stream_chat_completion

log = logging.getLogger(__name__)

# Rendering the whole answer as HTML costs more than sending a delta, so the
# HTML rides along less often; in between the browser appends plain text.
RENDER_INTERVAL = 0.25
# How often Stop is checked: often enough to stop well within a second, rare
# enough that hundreds of streams don't keep Redis busy.
SUPERVISE_INTERVAL = 0.4
# One TLS context for every stream: building one costs more than a whole chunk.
TLS = ssl.create_default_context()


class Stopped(Exception):
    """The user asked to stop, or the answer was ended elsewhere."""


@sync_to_async
def _db(function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    finally:
        # With a pool (PostgreSQL) hand the connection back between writes, as
        # hundreds of streams share a process; SQLite would pay a reconnect for
        # nothing. The task's end closes what is left.
        if connection.settings_dict.get("OPTIONS", {}).get("pool"):
            connection.close()


def _load(message_id):
    # Prefetched so that serialising the reply on the event loop needs no query.
    return (
        Message.objects.select_related("conversation", "conversation__bot")
        .prefetch_related("images_left_out")
        .filter(pk=message_id)
        .first()
    )


class ReplyStream:
    def __init__(self, reply, live, layer):
        self.reply = reply
        self.live = live
        self.layer = layer
        self.group = conversation_group(reply.conversation_id)
        self.text = ""
        self.pending = ""
        self.seq = 0
        self.saved_seq = 0
        self.started = time.monotonic()
        self.first_token_at = None
        self.last_flush = self.last_render = self.last_save = self.started
        self.usage = None
        self.finish_reason = None
        self.sources = []  # knowledge-base entries given to the model
        # Set when the generation is over for any reason. Besides cancelling its
        # tasks we tell them, because a client library can swallow a
        # cancellation (a timeout racing it) and the task would live on.
        self.ended = False

    async def send(self, event):
        await self.layer.group_send(self.group, event)

    async def flush(self, final=False):
        now = time.monotonic()
        if self.pending:
            self.seq += 1
            delta, self.pending = self.pending, ""
            await self.live.append(self.reply.pk, self.reply.attempt, self.seq, delta)
            html = None
            if final or now - self.last_render >= RENDER_INTERVAL:
                html = render_markdown(self.text)
                self.last_render = now
            await self.send(chunk_event(self.reply, self.seq, delta, html))
        self.last_flush = now
        if final or self.seq == self.saved_seq or now - self.last_save < settings.STREAM_SAVE_INTERVAL:
            return
        self.last_save = now
        self.saved_seq = self.seq
        if not await _db(self.reply.save_progress, self.text, self.seq):
            raise Stopped

    async def consume(self, request):
        timeouts = dict(connect_timeout=settings.INFERENCE_CONNECT_TIMEOUT, read_timeout=settings.INFERENCE_READ_TIMEOUT)
        async with httpx.AsyncClient(verify=TLS) as client:
            events = stream_chat_completion(
                client,
                base_url=settings.INFERENCE_URL,
                api_key=settings.INFERENCE_API_KEY,
                model=request.model,
                messages=request.messages,
                max_tokens=request.max_tokens,
                temperature=request.temperature,
                **timeouts,
            )
            try:
                async for event in events:
                    if self.ended:
                        break
                    if event.delta:
                        if self.first_token_at is None:
                            self.first_token_at = time.monotonic()
                        self.text += event.delta
                        self.pending += event.delta
                    if event.finish_reason:
                        self.finish_reason = event.finish_reason
                    if event.usage:
                        self.usage = event.usage
                    if time.monotonic() - self.last_flush >= settings.STREAM_FLUSH_INTERVAL:
                        await self.flush()
            finally:
                # Closing the response tells the model service to stop generating.
                await events.aclose()

    async def supervise(self):
        """Renew the lease and watch for Stop while tokens flow (or don't)."""
        renew_every = settings.GENERATION_LEASE_SECONDS / 3
        last_renew = time.monotonic()
        while not self.ended:
            await asyncio.sleep(SUPERVISE_INTERVAL)
            if await self.live.stop_requested(self.reply.pk):
                raise Stopped
            if time.monotonic() - last_renew >= renew_every:
                await self.live.renew_lease(self.reply.pk)
                last_renew = time.monotonic()

    def figures(self):
        end = time.monotonic()
        figures = {"duration": round(end - self.started, 3)}
        if self.first_token_at is not None:
            figures["time_to_first_token"] = round(self.first_token_at - self.started, 3)
        if self.usage:
            figures["prompt_tokens"] = self.usage.get("prompt_tokens")
            figures["completion_tokens"] = self.usage.get("completion_tokens")
        return figures

    async def finish(self, status, error=""):
        await self.flush(final=True)
        fields = self.figures()
        if self.sources:
            fields["sources"] = mark_cited(self.sources, self.text)
        ended = await _db(self.reply.finish, status, content=self.text, seq=self.seq, error=error, **fields)
        if not ended:
            # Someone else ended it (a stop while queued, a reaper): show their verdict.
            self.reply = await _db(_load, self.reply.pk) or self.reply
        await self.send(message_event(self.reply))

    async def run(self, request):
        consume = asyncio.ensure_future(self.consume(request))
        supervise = asyncio.ensure_future(self.supervise())
        try:
            done, _ = await asyncio.wait(
                {consume, supervise},
                timeout=settings.GENERATION_TIMEOUT,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if not done:
                raise InferenceError("The answer took too long and was cut off.")
            for task in done:
                task.result()
        finally:
            self.ended = True
            for task in (consume, supervise):
                task.cancel()
            await asyncio.wait({consume, supervise}, timeout=5)


async def stream_reply(message_id):
    """Generate the answer `message_id`, unless it was already taken or stopped."""
    reply = await _db(_load, message_id)
    if reply is None or not await _db(reply.claim):
        return
    live = AsyncLive()
    layer = get_channel_layer()
    stream = ReplyStream(reply, live, layer)
    try:
        await live.renew_lease(reply.pk)
        await stream.send(message_event(reply))
        if await live.stop_requested(reply.pk):
            raise Stopped
        request = await _db(build_request, reply)
        if request.dropped_images or reply.attempt > 1:
            await _db(record_left_out, reply, request.dropped_images)
        stream.sources = request.sources
        if request.canned_answer is not None:
            stream.text = stream.pending = request.canned_answer
            stream.first_token_at = time.monotonic()
            await stream.finish(Message.Status.DONE)
            return
        await stream.run(request)
        if stream.finish_reason is None and not stream.text:
            raise InferenceError("The model returned no answer.")
        await stream.finish(Message.Status.DONE)
    except Stopped:
        await stream.finish(Message.Status.STOPPED)
    except InferenceError as error:
        log.warning("answer %s failed: %s", message_id, error.reason)
        await stream.finish(Message.Status.ERROR, error=error.reason)
    except Exception:
        log.exception("answer %s failed", message_id)
        await stream.finish(Message.Status.ERROR, error="Something went wrong while writing this answer. Retry to ask again.")
    finally:
        await live.release(reply.pk)
        await live.close()
