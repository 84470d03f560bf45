"""What a generation shares through Redis while it runs, and how listeners hear of it.

- a log of its chunks (a Redis stream), so any client can ask for "everything
  after chunk N" and get exactly the missing text, whichever process serves it;
- a stop flag, so Stop works from any tab, any web process, after a reload;
- a lease the worker renews, so a generation whose worker died is noticed;
- events published to the channel layer's groups (one PUBLISH each: the
  channel layer is channels_redis' pub/sub layer), which the worker batches
  with the log in one pipeline.

The database stays the authoritative transcript: the log only bridges the
second or so between two saves, and expires a while after the answer ends.
"""

import asyncio
import logging
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import cast

import redis
import redis.asyncio
from channels.layers import get_channel_layer
from django.conf import settings

log = logging.getLogger(__name__)

LOG_TTL = 3600


def redis_prefix() -> str:
    """The prefix of every key this deployment keeps in Redis (CHANNEL_PREFIX)."""
    return cast(dict[str, str], settings.CHANNEL_LAYERS["default"]["CONFIG"])["prefix"]


def _key(kind: str, message_id: object) -> str:
    return f"{redis_prefix()}:{kind}:{message_id}"


def log_key(message_id: int, attempt: int) -> str:
    return _key("log", f"{message_id}:{attempt}")


def stop_key(message_id: int) -> str:
    return _key("stop", message_id)


def lease_key(message_id: int) -> str:
    return _key("lease", message_id)


def resent_key(message_id: int) -> str:
    return _key("resent", message_id)


def group_channel(group: str) -> str:
    """The Redis pub/sub channel of a channel-layer group.

    channels_redis' RedisPubSubChannelLayer publishes a group's messages on
    this name; publishing on it directly lets one pipeline carry the log
    append and the fan-out; tests/chat/test_live_events.py guards the name.
    """
    return f"{redis_prefix()}__group__{group}"


# A pipeline of either client: the worker's loop batches with the async one.
Pipeline = redis.client.Pipeline | redis.asyncio.client.Pipeline


def encode_event(event: Mapping[str, object]) -> bytes:
    return get_channel_layer().serialize(event)


@dataclass
class Backlog:
    text: str  # all text logged so far
    missing: str  # the part after the chunk the client already has
    seq: int  # number of the last chunk logged


def backlog_from(entries: list | None, after: int) -> Backlog | None:
    """The log's entries as text, or None when no log exists (any more)."""
    if not entries:
        return None
    text, missing, seq = [], [], 0
    for _id, fields in entries:
        seq = int(fields[b"seq"])
        delta = fields[b"delta"].decode()
        text.append(delta)
        if seq > after:
            missing.append(delta)
    return Backlog("".join(text), "".join(missing), seq)


def append_chunk(pipe: Pipeline, message_id: int, attempt: int, seq: int, delta: str, first: bool) -> None:
    """Queue the log append of chunk `seq` on a pipeline (sync or async)."""
    key = log_key(message_id, attempt)
    pipe.xadd(key, {"seq": seq, "delta": delta})
    if first:
        pipe.expire(key, LOG_TTL)


def publish(pipe: Pipeline, group: str, event: Mapping[str, object]) -> None:
    publish_encoded(pipe, group, encode_event(event))


def publish_encoded(pipe: Pipeline, group: str, event: bytes) -> None:
    """Queue the PUBLISH of an event already encoded (`encode_event`); Redis accepts it even at maxmemory."""
    pipe.publish(group_channel(group), event)


# --- the synchronous side: actions, the reaper, the web process's threads ---------


@lru_cache(maxsize=4)
def _sync_redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, health_check_interval=10, socket_timeout=10, socket_connect_timeout=5)


def sync_redis() -> redis.Redis:
    return _sync_redis(settings.REDIS_URL)


def notify(group: str, event: Mapping[str, object]) -> None:
    """Tell every listener of `group` (any web process) about `event`.

    At most once, like every channel-layer message: a listener that missed it
    catches up from the database (its chunks are numbered, its state saved).
    """
    try:
        sync_redis().publish(group_channel(group), encode_event(event))
    except redis.RedisError as error:
        log.warning("could not notify %s: %s", group, error)


def backlog(message_id: int, attempt: int, after: int = 0) -> Backlog | None:
    return backlog_from(sync_redis().xrange(log_key(message_id, attempt)), after)


def request_stop(message_id: int) -> None:
    sync_redis().set(stop_key(message_id), 1, ex=LOG_TTL)


def clear_stop(message_id: int) -> None:
    sync_redis().delete(stop_key(message_id))


def lease_held(message_id: int) -> bool:
    return bool(sync_redis().exists(lease_key(message_id)))


def leases_held(message_ids: list[int]) -> set[int]:
    if not message_ids:
        return set()
    pipe = sync_redis().pipeline(transaction=False)
    for message_id in message_ids:
        pipe.exists(lease_key(message_id))
    return {message_id for message_id, held in zip(message_ids, pipe.execute(), strict=True) if held}


# --- the asynchronous side: one client per event loop ------------------------------

_async_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, redis.asyncio.Redis]" = (
    weakref.WeakKeyDictionary()
)


def async_redis() -> redis.asyncio.Redis:
    """The running event loop's Redis client, shared by everything on that loop."""
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        client = redis.asyncio.Redis.from_url(
            settings.REDIS_URL, health_check_interval=10, socket_timeout=10, socket_connect_timeout=5
        )
        _async_clients[loop] = client
    return client


async def check_async_redis() -> None:
    """Raise redis's ConnectionError if Redis does not answer.

    After a Redis restart every idle pooled connection is dead and the first
    command on one fails although Redis is back: those are dropped and Redis
    asked once more, so only a Redis that is really down is reported.
    """
    client = async_redis()
    try:
        await client.ping()
    except redis.exceptions.ConnectionError:
        await client.connection_pool.disconnect(inuse_connections=False)
        await client.ping()
