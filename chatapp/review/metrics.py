"""Daily figures for the metrics page, and the SVG charts drawn from them.

Counts are grouped in the database. Percentiles are computed here, in Python,
over the answers of a bounded date range: SQLite has no percentile function and
PostgreSQL's differs in how it interpolates, so one definition serves both.
"""

import math
import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.text import slugify

from chatapp.chat.models import Conversation, Message
from chatapp.review.models import Feedback

MAX_DAYS = 366
FINISHED = [Message.Status.DONE, Message.Status.STOPPED, Message.Status.ERROR]


def percentile(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between the two nearest ranks (NumPy's default, PostgreSQL's percentile_cont)."""
    ordered = sorted(values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * fraction
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


@dataclass
class Day:
    day: date
    conversations: int = 0
    messages: int = 0
    active_users: int = 0
    answers: int = 0
    errors: int = 0
    thumbs_up: int = 0
    thumbs_down: int = 0
    first_token_times: list[float] = field(default_factory=list, repr=False)
    completion_tokens: int = 0
    decode_seconds: float = 0.0

    @property
    def ttft_median(self) -> float | None:
        return statistics.median(self.first_token_times) if self.first_token_times else None

    @property
    def ttft_p95(self) -> float | None:
        return percentile(self.first_token_times, 0.95)

    @property
    def tokens_per_second(self) -> float | None:
        return self.completion_tokens / self.decode_seconds if self.decode_seconds > 0 else None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.answers if self.answers else None

    @property
    def thumbs_up_ratio(self) -> float | None:
        votes = self.thumbs_up + self.thumbs_down
        return self.thumbs_up / votes if votes else None


def day_range(days: int, today: date | None = None) -> tuple[date, date]:
    today = today or timezone.localdate()
    days = max(1, min(days, MAX_DAYS))
    return today - timedelta(days=days - 1), today


def daily_figures(start: date, end: date) -> list[Day]:
    """One Day per calendar day from `start` to `end` inclusive, in the current time zone."""
    figures = {start + timedelta(days=n): Day(start + timedelta(days=n)) for n in range((end - start).days + 1)}

    # A range on the stored value (not its __date) can use an index, and SQLite
    # then converts time zones only for the rows inside it.
    since = timezone.make_aware(datetime.combine(start, time.min))
    until = timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min))

    def within(field_name: str) -> dict[str, datetime]:
        return {f"{field_name}__gte": since, f"{field_name}__lt": until}

    row: Any  # each query below has rows of its own shape
    for row in (
        Conversation.objects.filter(**within("created_at"))
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(n=Count("id"))
        .order_by()
    ):
        figures[row["day"]].conversations = row["n"]

    for row in (
        Message.objects.filter(**within("created_at"))
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(
            n=Count("id"),
            users=Count("conversation__owner", distinct=True, filter=Q(role=Message.Role.USER)),
        )
        .order_by()
    ):
        figures[row["day"]].messages = row["n"]
        figures[row["day"]].active_users = row["users"]

    answers = (
        Message.objects.filter(role=Message.Role.ASSISTANT, status__in=FINISHED, **within("finished_at"))
        .annotate(day=TruncDate("finished_at"))
        .values_list("day", "status", "time_to_first_token", "duration", "completion_tokens")
    )
    for day, status, first_token, duration, tokens in answers.iterator(chunk_size=5000):
        figures_of_day = figures[day]
        figures_of_day.answers += 1
        if status == Message.Status.ERROR:
            figures_of_day.errors += 1
            continue
        if first_token is not None:
            figures_of_day.first_token_times.append(first_token)
            if tokens and duration and duration > first_token:
                figures_of_day.completion_tokens += tokens
                figures_of_day.decode_seconds += duration - first_token

    for row in (
        Feedback.objects.filter(**within("created_at"))
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(up=Count("id", filter=Q(vote=Feedback.Vote.UP)), down=Count("id", filter=Q(vote=Feedback.Vote.DOWN)))
        .order_by()
    ):
        figures[row["day"]].thumbs_up = row["up"]
        figures[row["day"]].thumbs_down = row["down"]

    return [figures[day] for day in sorted(figures)]


@dataclass
class Series:
    label: str
    shape: str  # "bar" or "line"
    values: list[float | None]

    @property
    def css_class(self) -> str:
        return f"series-{slugify(self.label)}"


class Chart:
    """Geometry of a small chart over days: one bar series and any number of line series."""

    width = 760
    height = 220
    left = 56
    right = 12
    top = 12
    bottom = 28

    def __init__(self, title: str, days: list[Day], series: list[Series], unit: str = "") -> None:
        self.title = title
        self.days = days
        self.series = series
        self.unit = unit
        present = [value for item in series for value in item.values if value is not None]
        self.scale_top = nice_ceiling(max(present) if present else 0)

    @property
    def plot_width(self) -> int:
        return self.width - self.left - self.right

    @property
    def plot_height(self) -> int:
        return self.height - self.top - self.bottom

    @property
    def baseline(self) -> int:
        return self.top + self.plot_height

    @property
    def slot(self) -> float:
        return self.plot_width / max(len(self.days), 1)

    def x(self, index: int) -> float:
        return round(self.left + self.slot * (index + 0.5), 1)

    def y(self, value: float) -> float:
        return round(self.top + self.plot_height * (1 - value / self.scale_top), 1)

    def label(self, day: Day, value: float) -> str:
        return f"{day.day:%b %d}: {self.formatted(value)}"

    def formatted(self, value: float) -> str:
        if float(value).is_integer() or value >= 100:
            return f"{value:.0f}{self.unit}"
        return f"{value:.3g}{self.unit}"

    @property
    def bars(self) -> list[dict[str, object]]:
        width = round(max(self.slot * 0.7, 1), 1)
        return [
            {
                "series": item,
                "x": round(self.x(index) - width / 2, 1),
                "y": self.y(value),
                "width": width,
                "height": round(self.baseline - self.y(value), 1),
                "label": self.label(day, value),
            }
            for item in self.series
            if item.shape == "bar"
            for index, (day, value) in enumerate(zip(self.days, item.values, strict=False))
            if value
        ]

    @property
    def lines(self) -> list[dict[str, object]]:
        lines = []
        for item in self.series:
            if item.shape != "line":
                continue
            dots = [
                {"x": self.x(index), "y": self.y(value), "label": self.label(day, value)}
                for index, (day, value) in enumerate(zip(self.days, item.values, strict=False))
                if value is not None
            ]
            lines.append({"series": item, "points": " ".join(f"{dot['x']},{dot['y']}" for dot in dots), "dots": dots})
        return lines

    @property
    def grid(self) -> list[dict[str, object]]:
        return [
            {"y": self.y(self.scale_top * step / 4), "label": self.formatted(self.scale_top * step / 4)}
            for step in range(5)
        ]

    @property
    def ticks(self) -> list[dict[str, object]]:
        every = max(1, -(-len(self.days) // 10))
        return [
            {"x": self.x(index), "label": f"{day.day:%b %d}"}
            for index, day in enumerate(self.days)
            if index % every == 0
        ]


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 4, 8 or 10 times a power of ten that is at least `value`.

    Each of those splits into four round quarters, one per grid line.
    """
    if value <= 0:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    return next(step * magnitude for step in (1, 2, 4, 8, 10) if value <= step * magnitude * (1 + 1e-9))


def charts(days: list[Day]) -> list[Chart]:
    return [
        Chart(
            "Conversations and messages per day",
            days,
            [
                Series("Messages", "bar", [day.messages for day in days]),
                Series("Conversations", "line", [day.conversations for day in days]),
            ],
        ),
        Chart(
            "Time to first token",
            days,
            [
                Series("Median", "line", [day.ttft_median for day in days]),
                Series("95th percentile", "line", [day.ttft_p95 for day in days]),
            ],
            unit=" s",
        ),
    ]
