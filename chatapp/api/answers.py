"""Following an answer the worker writes, from an async view.

The answer is queued (at commit) before the view can know its conversation,
so the view subscribes right after and then catches up on what was written
meanwhile: the Redis log of the generation while it runs, the database once it
is saved. Chunks are numbered and applied by the readers' rules (chunks.py):
a duplicate is skipped and a gap (group messages are at-most-once) is filled
from the log. When nothing arrives for a
while the database is asked again, so a lost final event cannot hang a client.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from chatapp.chat import actions
from chatapp.chat.chunks import Answer, Step
from chatapp.chat.events import ConversationGroupEvent, conversation_group
from chatapp.chat.following import catch_up
from chatapp.chat.models import Message

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# Seconds without any event before the database is looked at again.
QUIET_INTERVAL = 2.0

# Failures that mean the model cannot answer right now (HTTP 503), as opposed
# to an answer that went wrong (500).
UNAVAILABLE = {
    Message.ErrorCode.UNAVAILABLE,
    Message.ErrorCode.TIMEOUT,
    Message.ErrorCode.WORKER_LOST,
    Message.ErrorCode.NOT_STARTED,
    Message.ErrorCode.DATABASE,
}


class NoWorker(Exception):
    """No worker took the answer within API_QUEUE_TIMEOUT."""


class AnswerFeed:
    """The text of `reply` as it is written, once, in order; then `finished` holds the saved answer."""

    def __init__(self, user: User, reply: Message) -> None:
        self.user = user
        self.reply = reply
        self.layer = get_channel_layer()
        self.group = conversation_group(reply.conversation_id)
        self.channel: str | None = None
        self.receiving: asyncio.Future[ConversationGroupEvent] | None = None
        self.answer = Answer(attempt=reply.attempt)
        self.finished: Message | None = None
        self.queued_since = time.monotonic()

    async def open(self) -> None:
        self.channel = await self.layer.new_channel()
        await self.layer.group_add(self.group, self.channel)

    async def close(self) -> None:
        if self.receiving is not None:
            self.receiving.cancel()
        if self.channel is not None:
            await self.layer.group_discard(self.group, self.channel)

    async def stop(self) -> None:
        """Stop the generation unless it has ended (the client went away)."""
        if self.finished is None:
            await database_sync_to_async(actions.stop_reply)(self.user, self.reply.pk)

    async def deltas(self) -> AsyncIterator[str]:
        delta = await self.catch_up()
        if delta:
            yield delta
        while self.finished is None:
            event = await self.receive(QUIET_INTERVAL)
            delta = await (self.catch_up() if event is None else self.apply(event))
            if delta:
                yield delta

    async def receive(self, timeout: float) -> ConversationGroupEvent | None:
        # One receive stays pending across timeouts: cancelling a channel
        # layer receive can drop a message it was handing over.
        if self.receiving is None:
            self.receiving = asyncio.ensure_future(self.layer.receive(self.channel))
        done, _ = await asyncio.wait({self.receiving}, timeout=timeout)
        if not done:
            return None
        task, self.receiving = self.receiving, None
        return task.result()

    async def apply(self, event: ConversationGroupEvent) -> str:
        if event["type"] == "chat.chunk":
            if event["message_id"] != self.reply.pk:
                return ""
            # Another attempt's chunks are not this answer's: its end is read from the database.
            step = self.answer.apply_chunk(event)
            if step is Step.GAP:
                return await self.catch_up()
            return event["delta"] if step is Step.APPLIED else ""
        if event["type"] == "chat.message" and event["message"]["id"] == self.reply.pk:
            if event["message"]["status"] not in Message.ACTIVE:
                return await self.catch_up()
        return ""

    async def catch_up(self) -> str:
        """What the answer has beyond the text passed on so far, from the database or the log."""
        caught = await database_sync_to_async(catch_up)(self.user, self.reply.pk, self.answer.seq, self.answer.attempt)
        reply, backlog = caught.reply, caught.backlog
        if not reply.is_active:
            self.finished = reply
            return self.extend_to(reply.content)
        if reply.status == Message.Status.QUEUED:
            if time.monotonic() - self.queued_since > settings.API_QUEUE_TIMEOUT:
                await database_sync_to_async(actions.stop_reply)(self.user, reply.pk)
                raise NoWorker("No worker is free to answer right now; please try again in a moment.")
            return ""
        if backlog is not None and backlog.seq > self.answer.seq:
            self.answer.extend(backlog.seq, backlog.missing)
            return backlog.missing
        if backlog is None and reply.seq > self.answer.seq:
            self.answer.seq = reply.seq
            return self.extend_to(reply.content)
        return ""

    def extend_to(self, content: str) -> str:
        # Every saved text of one attempt starts with the text streamed before it.
        if not content.startswith(self.answer.text):
            return ""
        delta, self.answer.text = content[len(self.answer.text) :], content
        return delta

    @property
    def text(self) -> str:
        """The answer's text passed on so far."""
        return self.answer.text

    @property
    def unavailable(self) -> bool:
        """Whether the answer failed because the model service cannot answer now."""
        return self.finished is not None and self.finished.error_code in UNAVAILABLE
