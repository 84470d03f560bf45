"""Following an answer from any client: what it missed, whichever process it asks.

Both the browser's websocket (consumers.py) and the API's stream
(chatapp.api.answers) follow answers the same way: live chunks from the
channel layer, numbered; on a gap, a reconnect or a quiet spell they call
`catch_up`, which answers from the Redis log while the answer runs and from
the database once it is saved, and ends an answer whose worker died.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chatapp.chat import lifecycle, live
from chatapp.chat.actions import owned_reply
from chatapp.chat.events import MessageFrame, chunk_frame, message_payload
from chatapp.chat.live import Backlog
from chatapp.chat.models import Message
from chatapp.markdown import render_markdown

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


@dataclass
class CatchUp:
    reply: Message  # as saved now
    # While the answer runs: the log's text, and what follows chunk `after`.
    backlog: Backlog | None = None
    # Running, but nothing written yet: the chunks will come live.
    nothing_yet: bool = False


def catch_up(user: User | AnonymousUser, message_id: int, after: int = 0, attempt: int | None = None) -> CatchUp:
    """What the answer `message_id` has beyond chunk `after` of `attempt` (NotFound if not the user's)."""
    reply = owned_reply(user, message_id)
    if reply.status == Message.Status.STREAMING and lifecycle.reap_if_orphaned(reply):
        reply = owned_reply(user, message_id)
    if reply.is_active and attempt in (None, reply.attempt):
        backlog = live.backlog(reply.pk, reply.attempt, after)
        if backlog is not None and backlog.seq >= after:
            return CatchUp(reply, backlog)
        if backlog is None and reply.seq == 0:
            return CatchUp(reply, nothing_yet=True)
    return CatchUp(reply)


def resume_frame(
    user: User | AnonymousUser, message_id: int, after: int, attempt: int | None
) -> MessageFrame | str | None:
    """For the websocket: a chunk frame (str) from the log, the saved message (dict), or None."""
    caught = catch_up(user, message_id, after, attempt)
    if caught.backlog is not None:
        backlog = caught.backlog
        return chunk_frame(
            caught.reply.pk, caught.reply.attempt, after, backlog.seq, backlog.missing, render_markdown(backlog.text)
        )
    if caught.nothing_yet:
        return None
    return {"type": "message", "message": message_payload(caught.reply)}
