"""The shapes of what listeners receive, shared by the worker, actions and consumer.

A chunk event carries its websocket frame already encoded: the worker encodes
it once and every web process sends it as it is to each socket.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import TYPE_CHECKING, Literal, NotRequired, TypedDict

from chatapp.chat.extensions import registry

if TYPE_CHECKING:
    from chatapp.chat.models import Conversation, Message


def conversation_group(conversation_id: int) -> str:
    return f"conversation-{conversation_id}"


def user_group(user_id: int) -> str:
    return f"user-{user_id}"


class Usage(TypedDict):
    prompt_tokens: int | None
    completion_tokens: int | None


class MessagePayload(TypedDict):
    """A message as clients see it."""

    id: int
    conversation_id: int
    parent_id: int | None
    role: str
    status: str
    content: str
    html: str
    seq: int
    attempt: int
    error: str
    error_code: str
    finish_reason: str
    replaced: bool
    model: str
    created_at: str
    usage: Usage
    time_to_first_token: float | None
    duration: float | None
    sources: list[dict[str, object]]
    images: list[dict[str, object]]
    images_left_out: int


class MessageEvent(TypedDict):
    type: Literal["chat.message"]
    message: MessagePayload
    # When an answer ends: its owner's tokens of the day, for that owner's sockets only.
    owner_id: NotRequired[int | None]
    tokens_today: NotRequired[int]


# Chunks `from`+1 … `seq` of an answer (`from` is a keyword: the functional form).
ChunkEvent = TypedDict(
    "ChunkEvent",
    {
        "type": Literal["chat.chunk"],
        "message_id": int,
        "attempt": int,
        "from": int,
        "seq": int,
        "delta": str,
        "frame": str,
    },
)


class WaitingEvent(TypedDict):
    type: Literal["chat.waiting"]
    message_id: int
    reason: str
    seconds: int


class MessageFrame(TypedDict):
    """A message sent to one websocket (the group's events are `MessageEvent`)."""

    type: Literal["message"]
    message: MessagePayload
    tokens_today: NotRequired[int]


# What a conversation's group carries.
ConversationGroupEvent = MessageEvent | ChunkEvent | WaitingEvent


class ConversationPayload(TypedDict):
    id: int
    title: str
    updated_at: str
    pinned: bool
    archived: bool
    source: str
    current_id: int | None
    deleted: bool


class ConversationEvent(TypedDict):
    type: Literal["chat.conversation"]
    conversation: ConversationPayload


def message_payload(message: Message) -> MessagePayload:
    """A message as clients see it. May query (images): call it where the ORM is allowed."""
    payload: MessagePayload = {
        "id": message.pk,
        "conversation_id": message.conversation_id,
        # The message it follows: a new one that does not follow the last shown starts another branch.
        "parent_id": message.parent_id,
        "role": message.role,
        "status": message.status,
        "content": message.content,
        "html": message.html,
        "seq": message.seq,
        "attempt": message.attempt,
        "error": message.error,
        "error_code": message.error_code,
        # "length": cut at the answer's length limit; the chat offers Continue.
        "finish_reason": message.finish_reason,
        # The streamed text was replaced by the knowledge base's own answer.
        "replaced": bool(message.rejected_draft),
        "model": message.model,
        "created_at": message.created_at.isoformat(),
        "usage": {
            "prompt_tokens": message.prompt_tokens,
            "completion_tokens": message.completion_tokens,
        },
        "time_to_first_token": message.time_to_first_token,
        "duration": message.duration,
        "sources": message.sources,
        "images": [],
        "images_left_out": 0,
    }
    for extra in registry.payload:
        payload.update(extra(message))
    return payload


def message_event(message: Message, owner_id: int | None = None, tokens_today: int | None = None) -> MessageEvent:
    """`tokens_today`: when an answer ends, the day's tokens of its owner (`owner_id`), for "Today: N tokens"."""
    event: MessageEvent = {"type": "chat.message", "message": message_payload(message)}
    if tokens_today is not None:
        event["owner_id"] = owner_id
        event["tokens_today"] = tokens_today
    return event


def message_frame(event: MessageEvent, user_id: int | None) -> MessageFrame:
    """The websocket frame of a message event for a socket of `user_id`.

    The day's tokens go only to their owner's sockets: whoever else may follow
    a conversation one day never reads another person's figure.
    """
    frame: MessageFrame = {"type": "message", "message": event["message"]}
    if "tokens_today" in event and event.get("owner_id") == user_id:
        frame["tokens_today"] = event["tokens_today"]
    return frame


def chunk_frame(message_id: int, attempt: int, after: int, seq: int, delta: str, html: str | None = None) -> str:
    """The websocket frame for chunks `after`+1 … `seq` of an answer; `from` is for gap detection."""
    frame: dict[str, object] = {
        "type": "chunk",
        "message_id": message_id,
        "attempt": attempt,
        "from": after,
        "seq": seq,
        "delta": delta,
    }
    if html is not None:
        frame["html"] = html
    return json.dumps(frame, ensure_ascii=False)


def chunk_event(message_id: int, attempt: int, seq: int, delta: str, html: str | None = None) -> ChunkEvent:
    return {
        "type": "chat.chunk",
        "message_id": message_id,
        "attempt": attempt,
        "from": seq - 1,
        "seq": seq,
        "delta": delta,
        "frame": chunk_frame(message_id, attempt, seq - 1, seq, delta, html),
    }


class WaitReason(StrEnum):
    """Why an answer has had no new text for a while (the page says so)."""

    QUEUED = "queued"  # no worker yet (the page tells this one itself)
    ENGINE_SILENT = "engine_silent"
    MODEL_STARTING = "model_starting"  # the model service is loading or restarting; the answer waits for it


def waiting_event(message_id: int, reason: WaitReason, seconds: float) -> WaitingEvent:
    """The answer has had no new text for `seconds`, for `reason`."""
    return {"type": "chat.waiting", "message_id": message_id, "reason": reason, "seconds": round(seconds)}


def conversation_event(conversation: Conversation, deleted: bool = False) -> ConversationEvent:
    return {
        "type": "chat.conversation",
        "conversation": {
            "id": conversation.pk,
            "title": conversation.title,
            "updated_at": conversation.updated_at.isoformat(),
            "pinned": conversation.pinned_at is not None,
            "archived": conversation.archived_at is not None,
            "source": conversation.source,
            "current_id": conversation.current_id,
            "deleted": deleted,
        },
    }
