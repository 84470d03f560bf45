"""One answer's life in the database: queued → streaming → done / stopped / error.

Everything that moves an answer between states is here: queue, claim,
progress, finish, hand back at shutdown, and the reaper
that ends what a dead worker or a lost task left behind. Each move is a
conditional update (`Message._update_if`), so the database settles every race
(two workers, a Stop, two reapers), and listeners hear of it once it commits.

These are synchronous: the worker's event loop calls them in a thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Unpack

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable
from redis.exceptions import RedisError

from chatapp.chat import live, naming
from chatapp.chat.events import MessagePayload, conversation_group, message_event
from chatapp.chat.extensions import registry
from chatapp.chat.models import EngineFigures, Figures, Message, TokenQuota, TokenUse
from chatapp.chat.prompt import GenerationRequest, build_request
from chatapp.chat.signals import reaper_ran

if TYPE_CHECKING:
    from chatapp.chat.gate import Admission

log = logging.getLogger(__name__)

GENERATE_REPLY = "chatapp.chat.tasks.generate_reply"

WORKER_LOST = "The worker writing this answer stopped unexpectedly."
SHUT_DOWN = "The server restarted while this answer was being written."
NOT_STARTED = "No worker was free to start this answer."


def notify_message(message: Message) -> MessagePayload:
    """Tell the conversation's listeners about `message` once the current transaction commits.

    Returns what they are told, for a caller that sends the same message to
    its own client (the websocket's `send`).
    """
    event = message_event(message, **day_total(message))
    group = conversation_group(message.conversation_id)
    transaction.on_commit(lambda: live.notify(group, event))
    return event["message"]


def day_total(message: Message) -> dict[str, int]:
    """For an answer that has ended (settled on the ledger): its owner's tokens today, which the chat shows."""
    if message.role != Message.Role.ASSISTANT or message.status in Message.ACTIVE:
        return {}
    owner_id = message.conversation.owner_id
    return {"owner_id": owner_id, "tokens_today": TokenQuota.tokens_used_today(owner_ids=[owner_id])}


def queue(reply: Message) -> None:
    """Hand `reply` to a worker once it is committed (a task never runs before its row exists)."""
    message_id = reply.pk
    transaction.on_commit(lambda: send_to_workers(message_id))


def send_to_workers(message_id: int) -> bool:
    """Put the answer's task on the queue; False if the queue refused it.

    A Redis that is down or full (maxmemory with `noeviction`) refuses the
    task after the question and its answer are saved: the answer stays
    queued, the reaper sends it again (ANSWER_RESEND_AFTER) and ends it with
    Retry if it never starts (ANSWER_QUEUE_TIMEOUT). The request that saved
    it is answered as usual, so the page clears its composer and nothing is
    sent twice.
    """
    try:
        # By name: the task module depends on this one, not the other way round.
        current_app.send_task(GENERATE_REPLY, args=[message_id])
    except (BrokerUnavailable, RedisError) as error:
        log.warning("answer %s stays queued, the queue refused it: %s", message_id, error)
        return False
    return True


def claim(message_id: int) -> Message | None:
    """Take a queued answer for generation; None if it is gone, taken or stopped."""
    # The owner too: the prompt (its default bot) is built from this object next.
    reply = (
        Message.objects.select_related("conversation", "conversation__bot", "conversation__owner")
        .filter(pk=message_id)
        .first()
    )
    if reply is None or not reply.claim():
        return None
    notify_message(reply)
    return reply


def prepare(reply: Message) -> GenerationRequest:
    """What the model is asked for `reply`; a prompt that goes to the model counts on the ledger from now."""
    request = build_request(reply)
    if request.canned_answer is None:
        TokenUse.open(reply, request.estimated_tokens, user_id=reply.conversation.owner_id)
    return request


@dataclass(frozen=True)
class Progress:
    message_id: int
    # None: nothing new since the last save, only that its worker is still alive.
    text: str | None
    seq: int


def save_progress(batch: list[Progress]) -> set[int]:
    """Save partial texts and that their worker is alive; returns the ids no longer streaming (ended elsewhere)."""
    ended = set()
    now = timezone.now()
    for progress in batch:
        changes: dict[str, object] = {"alive_at": now}
        if progress.text is not None:
            changes.update(content=progress.text, seq=progress.seq)
        saved = Message.objects.filter(pk=progress.message_id, status=Message.Status.STREAMING).update(**changes)
        if not saved:
            ended.add(progress.message_id)
    return ended


def finish(
    reply: Message,
    status: str,
    *,
    text: str,
    seq: int,
    error_code: str = "",
    error: str = "",
    sources: list | None = None,
    generated: bool = True,
    **measured: Unpack[EngineFigures],
) -> Message:
    """End the answer with `text`; if someone else ended it first, their verdict stands.

    A knowledge-base answer the model wrote (`generated`, with `sources`) is
    checked against its entries first, and may be replaced by their own text.
    """
    figures: Figures = {**measured}
    if sources:
        figures["sources"] = sources
        if status == Message.Status.DONE and generated and registry.knowledge_base is not None:
            final = registry.knowledge_base.finalize(reply, text, sources)
            text, figures["sources"], figures["rejected_draft"] = final.text, final.sources, final.rejected_draft
    if not reply.finish(status, content=text, seq=seq, error=error, error_code=error_code, **figures):
        # Ended elsewhere (a reaper) or deleted meanwhile: what was written still cost what it cost.
        TokenUse.settle(reply, text, figures.get("prompt_tokens"), figures.get("completion_tokens"))
        reply = Message.objects.select_related("conversation").get(pk=reply.pk)
    elif naming.wants_title(reply):
        naming.queue_title(reply)
    live.clear_stop(reply.pk)
    notify_message(reply)
    return reply


def hand_back(reply: Message, text: str, seq: int) -> Message:
    """At shutdown: an answer with no text yet goes back to the queue, one with text ends as failed."""
    if not text and reply.return_to_queue():
        queue(reply)
        notify_message(reply)
        return reply
    return finish(
        reply, Message.Status.ERROR, text=text, seq=seq, error_code=Message.ErrorCode.WORKER_LOST, error=SHUT_DOWN
    )


def continue_answer(reply: Message, admission: Admission) -> bool:
    """Continue: a new attempt that writes on from an answer cut at the length limit,
    which passed the gate (`admission`)."""
    if admission.user_id != reply.conversation.owner_id:
        raise ValueError("the admission is for another user's answer")
    with transaction.atomic():
        if not reply.continue_after_length():
            return False
        live.clear_stop(reply.pk)
        queue(reply)
        notify_message(reply)
    return True


def stop(reply: Message) -> None:
    # The flag reaches whichever worker holds the generation; an answer still
    # waiting in the queue is stopped right here and its task finds nothing to do.
    live.request_stop(reply.pk)
    if reply.status == Message.Status.QUEUED and reply.finish(Message.Status.STOPPED):
        notify_message(reply)


# --- the reaper ---------------------------------------------------------------------


def end_orphan(reply: Message) -> bool:
    """End a streaming answer whose worker stopped renewing its lease, keeping its text."""
    text, seq = reply.content, reply.seq
    backlog = live.backlog(reply.pk, reply.attempt)
    if backlog is not None and backlog.seq > seq:
        # The log holds up to the last chunk sent, the database only to the last save.
        text, seq = backlog.text, backlog.seq
    if reply.finish(
        Message.Status.ERROR, content=text, seq=seq, error_code=Message.ErrorCode.WORKER_LOST, error=WORKER_LOST
    ):
        notify_message(reply)
        return True
    return False


def reap_if_orphaned(reply: Message) -> bool:
    """A client's check on one answer it follows (the reaper does all of them)."""
    if reply.status != Message.Status.STREAMING:
        return False
    last_sign = max(filter(None, (reply.started_at, reply.alive_at)), default=reply.created_at)
    if (timezone.now() - last_sign).total_seconds() < settings.GENERATION_LEASE_SECONDS:
        return False
    if live.lease_held(reply.pk):
        return False
    return end_orphan(reply)


def reap() -> dict[str, int]:
    """End or re-send every answer left behind; safe to run anywhere, any number of times at once."""
    now = timezone.now()
    done = {"ended_orphans": 0, "resent": 0, "gave_up": 0}
    lease_cutoff = now - timedelta(seconds=settings.GENERATION_LEASE_SECONDS)
    # Orphaned: no sign of life in the database for a lease's length, and no lease in
    # Redis (which may have evicted or lost it while the worker was writing).
    streaming = list(
        Message.objects.filter(status=Message.Status.STREAMING, started_at__lt=lease_cutoff).exclude(
            alive_at__gte=lease_cutoff
        )
    )
    held = live.leases_held([reply.pk for reply in streaming])
    for reply in streaming:
        if reply.pk not in held and end_orphan(reply):
            done["ended_orphans"] += 1
    queued = Message.objects.filter(
        status=Message.Status.QUEUED, queued_at__lt=now - timedelta(seconds=settings.ANSWER_RESEND_AFTER)
    )
    give_up_before = now - timedelta(seconds=settings.ANSWER_QUEUE_TIMEOUT)
    for reply in queued:
        if reply.queued_at is not None and reply.queued_at < give_up_before:
            if reply.finish(Message.Status.ERROR, error_code=Message.ErrorCode.NOT_STARTED, error=NOT_STARTED):
                notify_message(reply)
                done["gave_up"] += 1
        elif live.sync_redis().set(live.resent_key(reply.pk), 1, nx=True, ex=max(1, int(settings.ANSWER_RESEND_AFTER))):
            # Its task may have been lost with a Redis that kept nothing; the
            # claim makes a second delivery harmless.
            queue(reply)
            done["resent"] += 1
    if any(done.values()):
        log.info("reaper: %s", done)
    reaper_ran.send(sender=reap, done=done)
    return done
