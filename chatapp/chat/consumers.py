"""The browser's websocket: validate each request, check ownership, delegate.

Permissions are checked again on every request (never cached at connect): a
conversation deleted or handed over in the meantime is simply not found.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.db import InterfaceError, OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from chatapp.chat import actions, live, quotas, sessions
from chatapp.chat.errors import ChatError, NotFound
from chatapp.chat.events import (
    ChunkEvent,
    ConversationEvent,
    MessageEvent,
    WaitingEvent,
    conversation_group,
    message_frame,
    user_group,
)
from chatapp.chat.extensions import registry
from chatapp.chat.following import resume_frame
from chatapp.chat.models import Conversation
from chatapp.chat.sessions import SessionCheckEvent

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

    from chatapp.chat.models import Message

logger = logging.getLogger(__name__)

# The database is unreachable (restarting, partitioned): the request fails
# with words for the user and the socket stays (chatapp.ops.asgi closes it
# cleanly for what cannot be answered, such as Redis gone).
DATABASE_DOWN = (OperationalError, InterfaceError)

# Close code for a socket over the user's cap (MAX_SOCKETS_PER_USER); the page says why.
CLOSE_TOO_MANY_SOCKETS = 4429


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ChatError("Expected a non-negative integer id.")
    return value


# A request from the page, as its JSON was parsed.
Request = dict[str, object]


def _bot_slug(value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise NotFound("bot")
    return value


def _echo(ref: object) -> object:
    """A request's `ref`, sent back only when it is a plain value (never a structure or a huge string)."""
    if isinstance(ref, str) and len(ref) <= 200 or isinstance(ref, int | float | bool):
        return ref
    return None


class ChatConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.user: User | AnonymousUser = self.scope["user"]
        if not self.user.is_authenticated:
            await self.close(code=4401)
            return
        self.conversation_id: int | None = None
        if not await self.take_socket_slot():
            limit = settings.MAX_SOCKETS_PER_USER
            await self.accept()  # to say why, which a refused handshake cannot
            await self.send_error(
                f"Too many open chat tabs or windows (the limit is {limit}): close some and reload this one.",
                code="too_many_sockets",
            )
            await self.close(code=CLOSE_TOO_MANY_SOCKETS)
            return
        # Subscribed before the socket opens: the page hears everything from then on.
        await self.channel_layer.group_add(user_group(self.user.pk), self.channel_name)
        await self.accept()

    def _sockets_key(self) -> str:
        # Under the limits' prefix: counted like the other per-user limits.
        return f"{settings.LIMITS_PREFIX}:sockets:{self.user.pk}"

    async def take_socket_slot(self) -> bool:
        """Count this socket among the user's open ones (in Redis: every process shares it); False over the cap.

        A socket is counted from its connect to its disconnect; one a crashed
        process never closed stops counting after WEBSOCKET_SLOT_SECONDS.
        """
        # Redis down: a socket opened now would hear nothing (the channel layer may take
        # the subscription silently), so the error goes up and CloseWhenUnavailable
        # closes it with "try again later"; the page reconnects.
        await live.check_async_redis()
        limit = settings.MAX_SOCKETS_PER_USER
        if not limit:
            return True
        key, now = self._sockets_key(), time.time()
        try:
            pipe = live.async_redis().pipeline(transaction=True)
            pipe.zremrangebyscore(key, 0, now - settings.WEBSOCKET_SLOT_SECONDS)
            pipe.zadd(key, {self.channel_name: now})
            pipe.zcard(key)
            pipe.expire(key, int(settings.WEBSOCKET_SLOT_SECONDS))
            count = (await pipe.execute())[2]
            if count > limit:
                await live.async_redis().zrem(key, self.channel_name)
                return False
            self.counted = True
        except Exception as error:  # Redis full or a stale connection: the cap must not keep anyone out
            logger.warning("could not count the sockets of user %s: %s", self.user.pk, error)
        return True

    async def disconnect(self, code: int) -> None:
        if not getattr(self, "user", None) or not self.user.is_authenticated:
            return
        if getattr(self, "counted", False):
            try:
                await live.async_redis().zrem(self._sockets_key(), self.channel_name)
            except Exception as error:  # it stops counting after WEBSOCKET_SLOT_SECONDS
                logger.warning("could not uncount a socket of user %s: %s", self.user.pk, error)
        await self.channel_layer.group_discard(user_group(self.user.pk), self.channel_name)
        if self.conversation_id:
            await self.channel_layer.group_discard(conversation_group(self.conversation_id), self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # The base class would raise on bad JSON and drop the socket; a deep
        # nesting raises RecursionError, not ValueError.
        if len(text_data or bytes_data or "") > settings.WEBSOCKET_MAX_REQUEST_BYTES:
            await self.send_error(
                f"That request is too large (the limit is {settings.WEBSOCKET_MAX_REQUEST_BYTES:,} bytes)."
            )
            return
        try:
            await super().receive(text_data=text_data, bytes_data=bytes_data)
        except (ValueError, RecursionError):
            await self.send_error("That was not valid JSON.")

    async def receive_json(self, content: object, **kwargs: object) -> None:
        handlers: dict[str, Callable[[Request], Awaitable[None]]] = {
            "open": self.handle_open,
            "send": self.handle_send,
            "resume": self.handle_resume,
            "stop": self.handle_stop,
            "retry": self.handle_retry,
            "continue": self.handle_continue,
            "regenerate": self.handle_retry,  # the name pages open before Retry and Regenerate became one
            "edit": self.handle_edit,
            "choose": self.handle_choose,
            "ping": self.handle_ping,
        }
        request: Request = content if isinstance(content, dict) else {}
        kind, ref = request.get("type"), request.get("ref")
        # Only a string names a request: `{"type": []}` is refused, not a crash.
        handler = handlers.get(kind) if isinstance(kind, str) else None
        try:
            # Checked on every request: a socket outlives logout, deactivation
            # and password changes otherwise.
            user = await database_sync_to_async(sessions.current_user)(self.scope.get("session"))
            if user is None or user.pk != self.user.pk:
                await self.close(code=sessions.CLOSE_SIGNED_OUT)
                return
            self.user = user
            await quotas.ahit("request", self.user.pk)
            if handler is None:
                raise ChatError(f"Unknown request type: {str(kind)[:40]!r}.")
            await handler(request)
        except ChatError as error:
            await self.send_error(
                str(error), request=kind if isinstance(kind, str) else None, ref=_echo(ref), **error.details
            )
        except DATABASE_DOWN as error:
            logger.warning("Websocket %s request failed, database unavailable: %s", kind, error)
            await self.send_error(
                "The chat cannot reach its database right now, so this was not saved. Try again in a moment.",
                request=kind if isinstance(kind, str) else None,
                ref=_echo(ref),
                code="unavailable",
            )
        except Exception:
            # Whatever else a request breaks, it fails alone: an error frame, and the socket stays.
            logger.exception("Websocket %s request failed", kind if isinstance(kind, str) else type(kind).__name__)
            await self.send_error(
                "Something went wrong with this request; nothing was changed. Try again, or reload the page.",
                request=kind if isinstance(kind, str) else None,
                ref=_echo(ref),
                code="internal",
            )

    async def send_error(self, reason: str, **details: object) -> None:
        await self.send_json({"type": "error", "error": reason, **{k: v for k, v in details.items() if v is not None}})

    # --- requests -----------------------------------------------------------

    async def handle_open(self, content: Request) -> None:
        conversation_id = _int(content.get("conversation_id"))
        if not await self.owns_conversation(conversation_id):
            raise NotFound()
        await self.follow(conversation_id)
        await self.send_json({"type": "opened", "conversation_id": conversation_id})

    async def handle_send(self, content: Request) -> None:
        given = content.get("conversation_id")
        conversation_id = None if given is None else _int(given)
        # Off the shared ORM thread: a burst of sends from many sockets is not
        # written one after another. The payloads come with it: one thread
        # hop and one pooled connection per send.
        sent = await database_sync_to_async(actions.send_message, thread_sensitive=False)(
            self.user,
            content.get("text"),
            conversation_id=conversation_id,
            bot_slug=_bot_slug(content.get("bot")),
            attach=await self.attachments(content.get("images")),
        )
        unreachable: Exception | None = None
        if sent.created:
            try:
                await self.follow(sent.conversation.pk)
            except (RedisConnectionError, RedisTimeoutError) as error:
                # Saved all the same: the page hears so (and clears its
                # composer) before the socket closes with "try again later".
                unreachable = error
            await self.send_json(
                {
                    "type": "created",
                    "ref": content.get("ref"),
                    "conversation": {"id": sent.conversation.pk, "title": sent.conversation.title},
                }
            )
        # The group may already have delivered these; sending them to this
        # socket too covers the moment before it joined a new conversation.
        # As the conversation's listeners were told (nothing changed them since).
        await self.send_json({"type": "message", "ref": content.get("ref"), "message": sent.question_payload})
        await self.send_json({"type": "message", "message": sent.reply_payload})
        if unreachable is not None:
            raise unreachable

    async def attachments(self, image_ids: object) -> Callable[[Message], None] | None:
        """Attached images, through the images extension point (see chatapp.chat.extensions)."""
        if not image_ids or registry.images is None:
            return None
        return await database_sync_to_async(registry.images.attacher)(self.user, image_ids)

    async def handle_resume(self, content: Request) -> None:
        """Send what the client missed of an answer after chunk `after`."""
        attempt = content.get("attempt")
        frame = await database_sync_to_async(resume_frame)(
            self.user,
            _int(content.get("message_id")),
            _int(content.get("after", 0)),
            attempt if isinstance(attempt, int) and not isinstance(attempt, bool) else None,
        )
        if isinstance(frame, str):
            await self.send(text_data=frame)
        elif frame is not None:
            # Finished, or the log is gone: the saved message replaces what the client has.
            await self.send_json(frame)

    async def handle_stop(self, content: Request) -> None:
        await database_sync_to_async(actions.stop_reply)(self.user, _int(content.get("message_id")))

    async def handle_retry(self, content: Request) -> None:
        await database_sync_to_async(actions.retry_reply)(self.user, _int(content.get("message_id")))

    async def handle_continue(self, content: Request) -> None:
        await database_sync_to_async(actions.continue_reply)(self.user, _int(content.get("message_id")))

    async def handle_edit(self, content: Request) -> None:
        sent = await database_sync_to_async(actions.edit_question)(
            self.user, _int(content.get("message_id")), content.get("text")
        )
        await self.send_json({"type": "message", "ref": content.get("ref"), "message": sent.question_payload})

    async def handle_choose(self, content: Request) -> None:
        conversation = await database_sync_to_async(actions.choose_version)(self.user, _int(content.get("message_id")))
        await self.send_json({"type": "chosen", "ref": content.get("ref"), "current_id": conversation.current_id})

    async def handle_ping(self, content: Request) -> None:
        await self.send_json({"type": "pong"})

    # --- group events -------------------------------------------------------

    async def chat_message(self, event: MessageEvent) -> None:
        await self.send_json(message_frame(event, self.user.pk))

    async def chat_chunk(self, event: ChunkEvent) -> None:
        await self.send(text_data=event["frame"])  # encoded once, by the worker

    async def chat_waiting(self, event: WaitingEvent) -> None:
        await self.send_json({**event, "type": "waiting"})

    async def chat_conversation(self, event: ConversationEvent) -> None:
        await self.send_json({"type": "conversation", "conversation": event["conversation"]})

    async def session_check(self, event: SessionCheckEvent) -> None:
        """A session of this user ended or their account changed: close if it was this socket's."""
        session = self.scope.get("session")
        ended = event.get("session_key")
        if ended and session is not None and session.session_key == ended:
            await self.close(code=sessions.CLOSE_SIGNED_OUT)
            return
        try:
            user = await database_sync_to_async(sessions.current_user)(session)
        except DATABASE_DOWN:
            return  # checked again on the socket's next request
        if user is None or user.pk != self.user.pk:
            await self.close(code=sessions.CLOSE_SIGNED_OUT)

    # --- lookups ------------------------------------------------------------

    async def follow(self, conversation_id: int) -> None:
        if self.conversation_id == conversation_id:
            return
        if self.conversation_id:
            await self.channel_layer.group_discard(conversation_group(self.conversation_id), self.channel_name)
        self.conversation_id = conversation_id
        await self.channel_layer.group_add(conversation_group(conversation_id), self.channel_name)

    @database_sync_to_async
    def owns_conversation(self, conversation_id: int) -> bool:
        return Conversation.objects.visible_to(self.user).filter(pk=conversation_id).exists()
