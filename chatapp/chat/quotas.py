"""Per-user limits, counted in Redis so that every web process shares them.

- rates (the `limits` library): websocket requests, sends, retries, uploads,
  API requests, password resets;
- answers generating at once per user (from the database: queued or streaming);
- daily token quotas per user and per group (TokenQuota, edited in the admin),
  counted from the day's finished answers.

Every refusal is a LimitReached: a ChatError whose words say what was
refused and when to try again (`retry_after` seconds).
"""

import asyncio
import logging
import math
import time
import weakref
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps
from typing import Any, Literal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils import timezone
from limits import RateLimitItem, parse_many
from limits.aio.strategies import SlidingWindowCounterRateLimiter as AsyncLimiter
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter
from redis.exceptions import RedisError

from chatapp.chat.errors import ChatError
from chatapp.chat.models import Message, TokenQuota

log = logging.getLogger(__name__)

# What each rate counts, the setting holding it, and the words for a refusal.
RATES = {
    "request": ("WEBSOCKET_REQUEST_RATE", "requests"),
    # Every answer started, whichever way (see chatapp.chat.gate).
    "answer": ("CHAT_SEND_RATE", "answers asked for"),
    "retry": ("CHAT_RETRY_RATE", "retries"),
    "upload": ("IMAGE_UPLOAD_RATE", "image uploads"),
    "api": ("API_USER_RATE_LIMIT", "API requests"),
    "password_reset": ("PASSWORD_RESET_RATE", "password reset requests"),
}


class LimitReached(ChatError):
    code = "rate_limited"

    def __init__(self, reason: str, retry_after: int, code: str = "rate_limited") -> None:
        super().__init__(reason)
        self.retry_after = max(1, int(retry_after))
        self.code = code

    @property
    def details(self) -> dict:  # type: ignore[override]  # read-only here
        return {"code": self.code, "retry_after": self.retry_after}


def _prefix() -> str:
    return settings.LIMITS_PREFIX


def _rates(action: str) -> list[RateLimitItem]:
    setting, _words = RATES[action]
    text = getattr(settings, setting, "")
    return parse_many(text) if text and text.strip() else []


def _refusal(action: str, rate: RateLimitItem, reset_time: float) -> LimitReached:
    wait = max(1, math.ceil(reset_time - time.time()))
    return LimitReached(f"Too many {RATES[action][1]}: the limit is {rate}. Try again in {_duration(wait)}.", wait)


# One storage per Redis address and prefix (the tests change both at run time).
_storages: dict[tuple[str, str], SlidingWindowCounterRateLimiter] = {}


def _limiter() -> SlidingWindowCounterRateLimiter:
    key = (settings.REDIS_URL, _prefix())
    if key not in _storages:
        _storages[key] = SlidingWindowCounterRateLimiter(storage_from_string(settings.REDIS_URL, key_prefix=key[1]))
    return _storages[key]


# One step of counting: the limiter's method to call with a rate; what it returns is sent back.
_Step = tuple[Literal["test", "get_window_stats", "hit"], RateLimitItem]


def _counting(action: str) -> Generator[_Step, Any, None]:
    """How one `action` is counted, for `hit` and `ahit` to run against their limiter:
    every rate is tested before any is counted, so a refusal counts nothing."""
    rates = _rates(action)
    for rate in rates:
        if not (yield "test", rate):
            stats = yield "get_window_stats", rate
            raise _refusal(action, rate, stats.reset_time)
    for rate in rates:
        yield "hit", rate


def hit(action: str, key: object) -> None:
    """Count one `action` for `key` (a user id, an address); raises LimitReached when over a rate.

    While Redis is unreachable nothing is counted and nothing refused: the
    chat is down then anyway, and the limits must not turn a restart of Redis
    into errors of their own.
    """
    limiter = _limiter()
    steps = _counting(action)
    try:
        step = next(steps)
        while True:
            method, rate = step
            step = steps.send(getattr(limiter, method)(rate, action, str(key)))
    except StopIteration:
        pass
    except RedisError as error:
        log.warning("could not count %s for %s: %s", action, key, error)


# Async storages belong to the event loop that opened their connections.
_async_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[tuple[str, str], AsyncLimiter]] = (
    weakref.WeakKeyDictionary()
)


def _async_limiter() -> AsyncLimiter:
    loop = asyncio.get_running_loop()
    key = (settings.REDIS_URL, _prefix())
    found = _async_limiters.get(loop)
    if found is None or found[0] != key:
        storage = storage_from_string(f"async+{settings.REDIS_URL}", implementation="redispy", key_prefix=key[1])
        found = _async_limiters[loop] = (key, AsyncLimiter(storage))
    return found[1]


async def ahit(action: str, key: object) -> None:
    """`hit` for code on an event loop (the websocket consumer, the API views)."""
    limiter = _async_limiter()
    steps = _counting(action)
    try:
        step = next(steps)
        while True:
            method, rate = step
            step = steps.send(await getattr(limiter, method)(rate, action, str(key)))
    except StopIteration:
        pass
    except RedisError as error:
        log.warning("could not count %s for %s: %s", action, key, error)


# --- answers at once ------------------------------------------------------------------


def check_active_answers(user: User) -> None:
    """Refuse a new answer while the user already has MAX_ACTIVE_ANSWERS_PER_USER queued or writing.

    Called inside the caller's transaction: the user's row is locked so that
    two sends at the same moment count each other.
    """
    limit = settings.MAX_ACTIVE_ANSWERS_PER_USER
    if not limit:
        return
    get_user_model().objects.select_for_update().filter(pk=user.pk).exists()
    active = Message.objects.visible_to(user).filter(status__in=Message.ACTIVE).count()
    if active >= limit:
        raise LimitReached(
            f"You already have {active} answers being written (the limit is {limit}): "
            "wait for one to finish or stop it, then send again.",
            retry_after=5,
            code="too_many_answers",
        )


# --- daily token quotas ----------------------------------------------------------------


start_of_day = TokenQuota.start_of_day
tokens_used_today = TokenQuota.tokens_used_today


@dataclass
class Usage:
    label: str  # whose quota: "your", "the group Interns'"
    used: int
    limit: int | None  # None: no quota

    @property
    def exhausted(self) -> bool:
        return self.limit is not None and self.used >= self.limit


def usage_of(user: User, limited_only: bool = False) -> list[Usage]:
    """The user's own quota (or the default), then each of their groups' quotas.

    `limited_only` leaves out the user's own usage when no quota limits it
    (nothing to check: the day's sum is not worth a query on every send).
    """
    own = TokenQuota.objects.filter(user=user).first()
    limit = own.daily_tokens if own else (settings.DAILY_TOKEN_QUOTA or None)
    usages = []
    if limit is not None or not limited_only:
        usages.append(Usage("your", tokens_used_today(owner_ids=[user.pk]), limit))
    for quota in TokenQuota.objects.filter(group__user=user).select_related("group"):
        assert quota.group is not None  # a group's quota: found through its group
        usages.append(Usage(f"the group {quota.group.name}'s", quota.used_today(), quota.daily_tokens))
    return usages


def check_token_quota(user: User) -> None:
    for usage in usage_of(user, limited_only=True):
        if usage.exhausted:
            wait = (start_of_day() + timedelta(days=1) - timezone.localtime()).total_seconds()
            raise LimitReached(
                f"Today's tokens are used up: {usage.used:,} of {usage.label} {usage.limit:,}. "
                f"The quota starts again at midnight ({settings.TIME_ZONE}), in {_duration(wait)}.",
                retry_after=math.ceil(wait),
                code="quota_exceeded",
            )


def _duration(seconds: float) -> str:
    seconds = math.ceil(seconds)
    if seconds < 120:
        return f"{seconds} s"
    minutes = math.ceil(seconds / 60)
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


# --- plain Django views ------------------------------------------------------------


def rate_limited_view(action: str) -> Callable[[Callable[..., HttpResponseBase]], Callable[..., HttpResponseBase]]:
    """Refuse a view's POSTs over the rate for the client's address, with 429 and Retry-After."""

    def decorate(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        @wraps(view)
        def limited(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.method == "POST":
                try:
                    hit(action, request.META.get("REMOTE_ADDR", ""))
                except LimitReached as refusal:
                    return HttpResponse(
                        str(refusal),
                        status=429,
                        headers={"Retry-After": str(refusal.retry_after)},
                        content_type="text/plain; charset=utf-8",
                    )
            return view(request, *args, **kwargs)

        return limited

    return decorate
