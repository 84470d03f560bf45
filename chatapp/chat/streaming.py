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
from django.utils import timezone

from chatapp.chat import lifecycle, live
from chatapp.chat.events import WaitReason, waiting_event
from chatapp.chat.extensions import registry
from chatapp.chat.models import EngineFigures, Message
from chatapp.chat.prompt import GenerationRequest, build_request
from chatapp.chat.relay import Interruption, Relay
from inference.client import InferenceError, InferenceUnavailable, count_prompt_tokens, stream_chat_completion

log = logging.getLogger(__name__)

INTERNAL = "Something went wrong while writing this answer."
CUT_OFF = "The answer took too long and was cut off."
NO_ANSWER = "The model returned no answer."
# Pauses between tries while the model service is loading or restarting.
FIRST_PAUSE = 1.0
LONGEST_PAUSE = 10.0
# A prompt trimmed to fit the endpoint's own count aims this far below the limit:
# the count scales the estimate, which is not exact turn by turn.
FIT_SLACK = 0.95
UNSHOWABLE = "The model sent something this chat could not show, so the answer was ended."
DATABASE_LOST = "The chat lost its database while writing this answer."


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
        # Continue: the answer goes on from its saved text, and its figures add up.
        self.earlier_figures = {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens}
        self.continues = bool(reply.content)
        if self.continues:
            self.stream.carry_on(reply.content)

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
            first_token_timeout=settings.INFERENCE_FIRST_TOKEN_TIMEOUT,
            extra_body=request.extra_body or None,
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

    def figures(self) -> EngineFigures:
        if not self.generated:
            # Written without a model (the knowledge base's own words): no model's name or timing on it.
            return {"model": ""}
        stream = self.stream
        figures: EngineFigures = {"duration": round(time.monotonic() - stream.started, 3)}
        if stream.first_token_at is not None:
            figures["time_to_first_token"] = round(stream.first_token_at - stream.started, 3)
        if self.usage:
            for name in ("prompt_tokens", "completion_tokens"):
                value = self.usage.get(name)
                earlier = self.earlier_figures[name] if self.continues else None
                figures[name] = value + earlier if isinstance(value, int) and earlier else value
        if self.finish_reason in Message.FinishReason.values:
            figures["finish_reason"] = self.finish_reason
        return figures

    # --- before the first token -------------------------------------------------------

    async def fit(self, request: GenerationRequest) -> GenerationRequest:
        """The request, trimmed until the endpoint's own count of its prompt fits (where it counts)."""
        for _ in range(2):
            counted = await count_prompt_tokens(
                self.relay.http,
                base_url=settings.INFERENCE_URL,
                api_key=settings.INFERENCE_API_KEY,
                model=request.model,
                messages=request.messages,
                extra_body=request.extra_body or None,
            )
            if counted is None or counted <= request.budget:
                return request
            request = await self.trimmed(request, counted)
        return request

    async def trimmed(self, request: GenerationRequest, counted: int | None) -> GenerationRequest:
        """`request` rebuilt smaller: scaled by the endpoint's count, or halved when it gave none."""
        if counted:
            budget = int(request.estimated_tokens * request.budget / counted * FIT_SLACK)
        else:
            budget = request.estimated_tokens // 2
        log.info(
            "answer %s: prompt of %s tokens over %s; trimming to an estimate of %s",
            self.reply.pk,
            counted,
            request.budget,
            budget,
        )
        return await self.relay.run_in_db(build_request, self.reply, budget)

    def queue_deadline(self) -> float:
        """When, on the monotonic clock, an answer that has not started must fail (ANSWER_QUEUE_TIMEOUT)."""
        queued = self.reply.queued_at or self.reply.created_at
        waited = (timezone.now() - queued).total_seconds()
        return time.monotonic() + settings.ANSWER_QUEUE_TIMEOUT - waited

    async def tell_waiting(self, reason: WaitReason) -> None:
        stream = self.stream
        # The ticker would otherwise say "busy or slow" over this notice.
        stream.waiting_told = True
        pipe = live.async_redis().pipeline(transaction=False)
        live.publish(pipe, stream.group, waiting_event(stream.message_id, reason, time.monotonic() - stream.started))
        try:
            await pipe.execute()
        except Exception as error:  # a notice only; the answer goes on
            log.warning("could not tell answer %s is waiting: %s", stream.message_id, error)

    async def generate_patiently(self, request: GenerationRequest) -> GenerationRequest:
        """Generate; a model that is loading or restarting is waited for, a prompt it finds too long trimmed.

        Before the first token, an unreachable service, a 503 or a 404 for the
        model is tried again with backoff until the answer has waited
        ANSWER_QUEUE_TIMEOUT; a refusal for context length is trimmed and
        sent once more. Returns the request last sent.
        """
        deadline = self.queue_deadline()
        pause = FIRST_PAUSE
        resent = False
        waiting_since = None
        while True:
            try:
                await self.generate(request)
                return request
            except InferenceUnavailable as error:
                if error.timed_out or self.stream.first_token_at is not None:
                    raise
                wait = min(max(pause, error.retry_after or 0.0), LONGEST_PAUSE)
                if time.monotonic() + wait > deadline:
                    if waiting_since is None:
                        raise
                    waited = time.monotonic() - waiting_since
                    raise InferenceUnavailable(
                        f"{error.reason} It was still so after {waited:.0f} s of waiting for it.",
                        status_code=error.status_code,
                    ) from None
                waiting_since = waiting_since or time.monotonic()
                log.info("answer %s: model not ready (%s); trying again in %.0f s", self.reply.pk, error.reason, wait)
                await self.tell_waiting(WaitReason.MODEL_STARTING)
                try:
                    await asyncio.wait_for(self.stream.interrupted.wait(), wait)
                    return request  # stopped or handed back while waiting
                except TimeoutError:
                    pass
                pause = min(pause * 2, LONGEST_PAUSE)
            except InferenceError as error:
                if resent or not error.context_too_long or self.stream.first_token_at is not None:
                    raise
                resent = True
                request = await self.trimmed(request, error.counted_prompt_tokens)
                await self.note_left_out(request)

    async def note_left_out(self, request: GenerationRequest) -> None:
        if (request.dropped_images or self.reply.attempt > 1) and registry.images is not None:
            await self.relay.db_call(registry.images.left_out, self.reply, request.dropped_images)

    async def end(self, status: str, error_code: str = "", error: str = "") -> None:
        stream = self.stream
        await self.relay.flush(stream)
        # The text exists only here (and in the resume log) until this save:
        # it waits for a database that is down for as long as it takes, the
        # answer's lease renewed meanwhile, so a complete answer ends done.
        if stream.interruption is Interruption.HANDED_BACK:
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
            request = await self.relay.prepare(lifecycle.prepare, self.reply)
            if request.canned_answer is None:
                request = await self.fit(request)
            await self.note_left_out(request)
            self.sources = request.sources
            if request.canned_answer is not None:
                self.generated = False
                stream.add(request.canned_answer)
            elif stream.interruption is None:
                await self.generate_patiently(request)
                if stream.interruption is None and self.finish_reason is None and not stream.text:
                    raise InferenceError(NO_ANSWER)
            if stream.interruption is Interruption.FAILED:
                log.warning("answer %s ended: %r", self.reply.pk, stream.failure)
                await self.end(Message.Status.ERROR, Message.ErrorCode.ENGINE_ERROR, UNSHOWABLE)
            elif stream.interruption is not None:  # a Stop, or ended elsewhere (whose verdict stands)
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
