"""What a generation shares through Redis while it runs.

- a log of its chunks (a Redis stream), so any client can ask for "everything
  after chunk N" and get exactly the missing text, whichever process serves it;
- a stop flag, so Stop works from any tab, any web process, after a reload;
- a lease the worker renews, so a generation whose worker died is noticed.

The database stays the authoritative transcript: the log only bridges the
second or so between two saves, and expires a while after the answer ends.
"""

from dataclasses import dataclass
from functools import lru_cache

import redis
import redis.asyncio
from django.conf import settings

LOG_TTL = 3600


def _key(kind, message_id):
    return f"{settings.CHANNEL_LAYERS['default']['CONFIG']['prefix']}:{kind}:{message_id}"


def log_key(message_id, attempt):
    return _key("log", f"{message_id}:{attempt}")


def stop_key(message_id):
    return _key("stop", message_id)


def lease_key(message_id):
    return _key("lease", message_id)


@dataclass
class Backlog:
    text: str  # all text logged so far
    missing: str  # the part after the chunk the client already has
    seq: int  # number of the last chunk logged


def _backlog(entries, after):
    text, missing, seq = [], [], 0
    for _id, fields in entries:
        seq = int(fields[b"seq"])
        delta = fields[b"delta"].decode()
        text.append(delta)
        if seq > after:
            missing.append(delta)
    return Backlog("".join(text), "".join(missing), seq)


class AsyncLive:
    """The worker's and the consumer's side (both run on an event loop)."""

    def __init__(self):
        self.redis = redis.asyncio.Redis.from_url(settings.REDIS_URL)

    async def close(self):
        await self.redis.aclose()

    async def append(self, message_id, attempt, seq, delta):
        key = log_key(message_id, attempt)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xadd(key, {"seq": seq, "delta": delta})
            pipe.expire(key, LOG_TTL)
            await pipe.execute()

    async def backlog(self, message_id, attempt, after):
        """Text logged after chunk `after`, or None when no log exists (any more)."""
        entries = await self.redis.xrange(log_key(message_id, attempt))
        return _backlog(entries, after) if entries else None

    async def stop_requested(self, message_id):
        return bool(await self.redis.exists(stop_key(message_id)))

    async def clear_stop(self, message_id):
        await self.redis.delete(stop_key(message_id))

    async def renew_lease(self, message_id):
        await self.redis.set(lease_key(message_id), 1, ex=settings.GENERATION_LEASE_SECONDS)

    async def release(self, message_id):
        await self.redis.delete(lease_key(message_id))

    async def lease_held(self, message_id):
        return bool(await self.redis.exists(lease_key(message_id)))


@lru_cache(maxsize=1)
def sync_redis():
    return redis.Redis.from_url(settings.REDIS_URL)


def request_stop(message_id):
    sync_redis().set(stop_key(message_id), 1, ex=LOG_TTL)


def clear_stop(message_id):
    sync_redis().delete(stop_key(message_id))


def lease_held(message_id):
    return bool(sync_redis().exists(lease_key(message_id)))
