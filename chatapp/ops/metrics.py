"""The Prometheus metrics every process records, in one place.

With PROMETHEUS_MULTIPROC_DIR set (make run and docker-compose set it), each
process writes its samples to files there and /metrics adds them up, so the
worker's answers are counted although only daphne serves the endpoint. The
core's signals call them (chatapp.chat.signals, connected in OpsConfig).
"""

from typing import TYPE_CHECKING

from prometheus_client import Counter, Histogram

if TYPE_CHECKING:
    from chatapp.chat.models import Message

ANSWERS = Counter(
    "chatapp_answers_total",
    "Answers that ended, by final status and error code (empty when none).",
    ["status", "error_code"],
)
TIME_TO_FIRST_TOKEN = Histogram(
    "chatapp_answer_time_to_first_token_seconds",
    "Seconds from the start of an answer to its first token.",
    buckets=(0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 21, 34, 60),
)
TOKENS_PER_SECOND = Histogram(
    "chatapp_answer_tokens_per_second",
    "Decoding speed of an answer, after its first token.",
    buckets=(1, 2, 5, 10, 15, 20, 30, 40, 60, 80, 120, 200),
)
REAPER_ACTIONS = Counter(
    "chatapp_reaper_actions_total",
    "What the reaper did to answers nobody was writing (requeued, failed...).",
    ["action"],
)


def answer_finished(message: "Message") -> None:
    """Count an answer that reached its final status; call once per ending."""
    ANSWERS.labels(status=message.status, error_code=message.error_code or "").inc()
    if message.time_to_first_token is not None:
        TIME_TO_FIRST_TOKEN.observe(message.time_to_first_token)
    speed = message.tokens_per_second
    if speed:
        TOKENS_PER_SECOND.observe(speed)


def reaper_acted(action: str, count: int = 1) -> None:
    """Count `count` answers the reaper handled with `action` (e.g. "resent", "gave_up")."""
    if count:
        REAPER_ACTIONS.labels(action=action).inc(count)


def on_answer_finished(sender: type, message: "Message", **kwargs: object) -> None:
    answer_finished(message)


def on_reaper_ran(sender: object, done: dict[str, int], **kwargs: object) -> None:
    for action, count in done.items():
        reaper_acted(action, count)
