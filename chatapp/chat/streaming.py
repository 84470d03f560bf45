"""The worker side of one answer: from the queue to the model and back to every listener.

`stream_reply` runs on the worker process's relay loop (see relay.py): it
claims the answer, builds the prompt, reads the model's stream into an
`AnswerStream` (the relay's ticker sends it out in coalesced, numbered
chunks), and ends the answer through `lifecycle` with the outcome: done,
stopped, failed with an error code, or handed back at shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import time

from django.conf import settings
from django.db import InterfaceError, OperationalError

from chatapp.chat import lifecycle
from chatapp.chat.extensions import registry
from chatapp.chat.models import Message
from chatapp.chat.prompt import GenerationRequest, build_request
from chatapp.chat.relay import Relay
from inference.client import InferenceError, InferenceUnavailable, stream_chat_completion

log = logging.getLogger(__name__)

INTERNAL = "Something went wrong while writing this answer. Retry to ask again."
CUT_OFF = "The answer took too long and was cut off."
NO_ANSWER = "The model returned no answer."
UNSHOWABLE = "The model sent something this chat could not show, so the answer was ended. Retry to ask again."
DATABASE_LOST = "The chat lost its database while writing this answer. Retry to ask again."


def error_code(error: InferenceError) -> str:
    if error.timed_out:
        return Message.ErrorCode.TIMEOUT
    if isinstance(error, InferenceUnavailable):
        return Message.ErrorCode.UNAVAILABLE
    return Message.ErrorCode.ENGINE_ERROR


class Generation:
    """One attempt at one answer, on the relay's loop."""

    def __init__(self, relay: Relay, reply: Message) -> None:
        self.relay = relay
        self.reply = reply
        self.stream = relay.stream_for(reply.pk, reply.attempt, reply.conversation_id)
        self.usage: dict | None = None
        self.finish_reason: str | None = None
        self.sources: list = []
        self.generated = True

    async def consume(self, request: GenerationRequest) -> None:
        events = stream_chat_completion(
            self.relay.http,
            base_url=settings.INFERENCE_URL,
            api_key=settings.INFERENCE_API_KEY,
            model=request.model,
            messages=request.messages,
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            connect_timeout=settings.INFERENCE_CONNECT_TIMEOUT,
            read_timeout=settings.INFERENCE_READ_TIMEOUT,
        )
        stream = self.stream
        try:
            async for event in events:
                # Checked as well as cancelled: a client library can swallow a
                # cancellation (a timeout racing it) and the loop would go on.
                if stream.interruption is not None:
                    break
                if event.delta:
                    stream.add(event.delta)
                if event.finish_reason:
                    self.finish_reason = event.finish_reason
                if event.usage:
                    self.usage = event.usage
        finally:
            # Closing the response tells the model service to stop generating.
            await events.aclose()

    async def generate(self, request: GenerationRequest) -> None:
        consume = asyncio.ensure_future(self.consume(request))
        interrupted = asyncio.ensure_future(self.stream.interrupted.wait())
        try:
            done, _ = await asyncio.wait(
                {consume, interrupted}, timeout=settings.GENERATION_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
            )
            if not done:
                raise CutOff
            if consume in done:
                consume.result()
        finally:
            for task in (consume, interrupted):
                task.cancel()
            await asyncio.wait({consume, interrupted}, timeout=5)

    def figures(self) -> dict:
        stream = self.stream
        figures: dict = {"duration": round(time.monotonic() - stream.started, 3)}
        if stream.first_token_at is not None:
            figures["time_to_first_token"] = round(stream.first_token_at - stream.started, 3)
        if self.usage:
            figures["prompt_tokens"] = self.usage.get("prompt_tokens")
            figures["completion_tokens"] = self.usage.get("completion_tokens")
        return figures

    async def end(self, status: str, error_code: str = "", error: str = "") -> None:
        stream = self.stream
        await self.relay.flush(stream)
        # The text exists only here (and in the resume log) until this save:
        # it waits for a database that is down for as long as it takes, the
        # answer's lease renewed meanwhile, so a complete answer ends done.
        if stream.interruption == "handed_back":
            await self.relay.run_in_db(lifecycle.hand_back, self.reply, stream.sent_text, stream.seq, patient=True)
            return
        await self.relay.run_in_db(
            lifecycle.finish,
            self.reply,
            status,
            patient=True,
            text=stream.sent_text,
            seq=stream.seq,
            error_code=error_code,
            error=error,
            sources=self.sources,
            generated=self.generated,
            **self.figures(),
        )

    async def run(self) -> None:
        stream = self.stream
        try:
            request = await self.relay.run_in_db(build_request, self.reply)
            if request.dropped_images or self.reply.attempt > 1:
                if registry.images is not None:
                    await self.relay.db_call(registry.images.left_out, self.reply, request.dropped_images)
            self.sources = request.sources
            if request.canned_answer is not None:
                self.generated = False
                stream.add(request.canned_answer)
            elif stream.interruption is None:
                await self.generate(request)
                if stream.interruption is None and self.finish_reason is None and not stream.text:
                    raise InferenceError(NO_ANSWER)
            if stream.interruption == "failed":
                log.warning("answer %s ended: %r", self.reply.pk, stream.failure)
                await self.end(Message.Status.ERROR, Message.ErrorCode.ENGINE_ERROR, UNSHOWABLE)
            elif stream.interruption is not None:
                await self.end(Message.Status.STOPPED)
            else:
                await self.end(Message.Status.DONE)
        except CutOff:
            await self.end(Message.Status.ERROR, Message.ErrorCode.CUT_OFF, CUT_OFF)
        except InferenceError as error:
            log.warning("answer %s failed: %s", self.reply.pk, error.reason)
            await self.end(Message.Status.ERROR, error_code(error), error.reason)
        except (OperationalError, InterfaceError) as error:
            # The database stayed away longer than DATABASE_RETRY_SECONDS before the answer could start.
            log.warning("answer %s failed, database unavailable: %s", self.reply.pk, error)
            await self.end(Message.Status.ERROR, Message.ErrorCode.DATABASE, DATABASE_LOST)
        except Exception:
            log.exception("answer %s failed", self.reply.pk)
            await self.end(Message.Status.ERROR, Message.ErrorCode.INTERNAL, INTERNAL)


class CutOff(Exception):
    """The answer ran past GENERATION_TIMEOUT."""


async def stream_reply(relay: Relay, message_id: int) -> None:
    """Generate the answer `message_id`, unless it was already taken or stopped."""
    reply = await relay.run_in_db(lifecycle.claim, message_id)
    if reply is None:
        return
    generation = Generation(relay, reply)
    # Registered before the prompt is built: from the claim on, a Stop or a
    # shutdown's hand-back finds the answer.
    relay.register(generation.stream)
    try:
        await generation.run()
    finally:
        relay.unregister(generation.stream)
        await relay.release(reply.pk)
