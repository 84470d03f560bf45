"""Whether the services a web process needs answer, and how fast."""

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass

import httpx
import redis
from django.conf import settings
from django.db import connection


@dataclass
class CheckResult:
    ok: bool
    ms: float
    error: str = ""

    def as_json(self) -> dict:
        result: dict[str, bool | float | str] = {"ok": self.ok, "ms": round(self.ms, 1)}
        if self.error:
            result["error"] = self.error
        return result


def check_database() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        # This runs in a thread of its own: give the connection back now.
        connection.close()


def check_redis() -> None:
    timeout = settings.READY_CHECK_TIMEOUT
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
    finally:
        client.close()


def check_model_service() -> None:
    """The endpoint lists INFERENCE_MODEL (vLLM listens only once its model is loaded)."""
    headers = {"Authorization": f"Bearer {settings.INFERENCE_API_KEY}"} if settings.INFERENCE_API_KEY else {}
    response = httpx.get(
        f"{settings.INFERENCE_URL.rstrip('/')}/models", headers=headers, timeout=settings.READY_CHECK_TIMEOUT
    )
    response.raise_for_status()
    served = [entry.get("id") for entry in response.json().get("data") or () if isinstance(entry, dict)]
    if served and settings.INFERENCE_MODEL not in served:
        raise LookupError(f"{settings.INFERENCE_MODEL} is not among the served models ({', '.join(map(str, served))})")


CHECKS = {"database": check_database, "redis": check_redis, "model": check_model_service}
# What this web process needs to serve pages; the model only to answer.
SERVING = ("database", "redis")


def _timed(check: Callable[[], None]) -> CheckResult:
    started = time.perf_counter()
    try:
        check()
    except Exception as error:  # any failure means "not ready"; its text says which
        return CheckResult(False, (time.perf_counter() - started) * 1000, f"{type(error).__name__}: {error}"[:300])
    return CheckResult(True, (time.perf_counter() - started) * 1000)


def run_checks() -> dict[str, CheckResult]:
    """Every check at once, each given READY_CHECK_TIMEOUT seconds at most."""
    timeout = settings.READY_CHECK_TIMEOUT
    pool = ThreadPoolExecutor(max_workers=len(CHECKS), thread_name_prefix="readyz")
    started = time.perf_counter()
    futures = {name: pool.submit(_timed, check) for name, check in CHECKS.items()}
    wait(futures.values(), timeout=timeout + 0.5)
    # A check still running (a database pool waiting for a connection) is
    # left to finish on its own; the probe answers now.
    pool.shutdown(wait=False)
    elapsed = (time.perf_counter() - started) * 1000
    return {
        name: future.result() if future.done() else CheckResult(False, elapsed, f"no answer within {timeout:g} s")
        for name, future in futures.items()
    }
