"""Requests per API token, counted in Redis (shared by every web process) with `limits`."""

import asyncio
import math
import time
import weakref
from typing import TYPE_CHECKING

from django.conf import settings
from limits import RateLimitItem, parse
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string

if TYPE_CHECKING:
    from chatapp.api.models import ApiToken


def parse_rate(text: str | None) -> RateLimitItem | None:
    """The rate item for "60/minute" and the like; None when empty (no limit)."""
    if not text or not text.strip():
        return None
    return parse(text)


class Throttle:
    def __init__(self) -> None:
        self.rate = parse_rate(settings.API_RATE_LIMIT)
        prefix = f"{settings.CHANNEL_PREFIX}:api-rate"
        storage = storage_from_string(f"async+{settings.REDIS_URL}", implementation="redispy", key_prefix=prefix)
        self.limiter = SlidingWindowCounterRateLimiter(storage)

    async def allow(self, token: "ApiToken") -> int | None:
        """Count a request; returns None, or the seconds to wait when over the rate."""
        if self.rate is None:
            return None
        key = str(token.pk)
        if await self.limiter.hit(self.rate, key):
            return None
        stats = await self.limiter.get_window_stats(self.rate, key)
        return max(1, math.ceil(stats.reset_time - time.time()))


# Redis connections belong to the event loop that opened them.
_throttles: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Throttle] = weakref.WeakKeyDictionary()


def throttle() -> Throttle:
    loop = asyncio.get_running_loop()
    if loop not in _throttles:
        _throttles[loop] = Throttle()
    return _throttles[loop]
