"""Conversations as JSONL (OpenAI chat format) and messages as CSV, streamed.

Conversations come from the database in chunks (`.iterator(chunk_size=...)`),
each with its messages, so an export of every conversation never holds them
all in memory.
"""

import csv
import itertools
import json
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import datetime
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone

from chatapp.chat.models import Conversation, Message
from chatapp.images.models import Attachment
from chatapp.review.models import Feedback, review_of

CHUNK_SIZE = 200
T = TypeVar("T")
MESSAGE_FIELDS = [
    "id",
    "conversation_id",
    "role",
    "content",
    "status",
    "error",
    "model",
    "created_at",
    "prompt_tokens",
    "completion_tokens",
    "time_to_first_token",
    "duration",
]


def batches(iterable: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(iterable)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


class ExportBatch:
    """A chunk of conversations with their messages, feedback and image URLs, in three queries.

    Plain rows rather than prefetch_related: prefetching builds a queryset per
    message, which costs more than everything else in an export.
    """

    def __init__(self, request: HttpRequest, conversations: list[Conversation]) -> None:
        self.conversations = conversations
        ids = [conversation.pk for conversation in conversations]
        self.messages: defaultdict[int, list[dict[str, Any]]] = defaultdict(list)
        for row in (
            Message.objects.filter(conversation_id__in=ids)
            .order_by("conversation_id", "created_at", "id")
            .values(*MESSAGE_FIELDS)
        ):
            self.messages[row["conversation_id"]].append(row)
        username = f"user__{get_user_model().USERNAME_FIELD}"
        self.feedback: defaultdict[int, list[dict[str, Any]]] = defaultdict(list)
        for row in (
            Feedback.objects.filter(message__conversation_id__in=ids)
            .order_by("id")
            .values("message_id", username, "vote", "comment", "updated_at")
        ):
            self.feedback[row["message_id"]].append(
                {"user": row[username], "vote": row["vote"], "comment": row["comment"], "at": iso(row["updated_at"])}
            )
        self.image_urls: defaultdict[int | None, list[str]] = defaultdict(list)
        for attachment in Attachment.objects.filter(message__conversation_id__in=ids).order_by("id"):
            self.image_urls[attachment.message_id].append(request.build_absolute_uri(attachment.url))


def export_batches(request: HttpRequest, conversation_ids: Iterable[int]) -> Iterator[ExportBatch]:
    conversations = (
        Conversation.objects.filter(pk__in=conversation_ids)
        .select_related("owner", "bot", "review__reviewed_by")
        .order_by("pk")
    )
    for chunk in batches(conversations.iterator(chunk_size=CHUNK_SIZE), CHUNK_SIZE):
        yield ExportBatch(request, chunk)


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def review_fields(conversation: Conversation) -> dict[str, str | None]:
    review = review_of(conversation)
    return {
        "status": review.status,
        "notes": review.notes,
        "reviewed_by": review.reviewed_by.get_username() if review.reviewed_by else None,
        "reviewed_at": iso(review.reviewed_at),
    }


def openai_message(message: dict[str, Any], image_urls: list[str]) -> dict[str, object]:
    """One message as the OpenAI chat format has it; images as URLs to the authorised image view."""
    if not image_urls:
        return {"role": message["role"], "content": message["content"]}
    parts: list[dict[str, object]] = [{"type": "text", "text": message["content"]}] if message["content"] else []
    parts += [{"type": "image_url", "image_url": {"url": url}} for url in image_urls]
    return {"role": message["role"], "content": parts}


def conversation_record(batch: ExportBatch, conversation: Conversation) -> dict[str, object]:
    messages = batch.messages[conversation.pk]
    return {
        "messages": [openai_message(message, batch.image_urls[message["id"]]) for message in messages],
        "metadata": {
            "conversation_id": conversation.pk,
            "title": conversation.title,
            "user": conversation.owner.get_username(),
            "source": conversation.source,
            "bot": conversation.bot.slug if conversation.bot else None,
            "created_at": iso(conversation.created_at),
            "updated_at": iso(conversation.updated_at),
            "review": review_fields(conversation),
            # One entry per message, in the same order as `messages`.
            "messages": [
                {
                    "id": message["id"],
                    "status": message["status"],
                    "error": message["error"],
                    "model": message["model"],
                    "created_at": iso(message["created_at"]),
                    "prompt_tokens": message["prompt_tokens"],
                    "completion_tokens": message["completion_tokens"],
                    "time_to_first_token": message["time_to_first_token"],
                    "duration": message["duration"],
                    "feedback": batch.feedback[message["id"]],
                }
                for message in messages
            ],
        },
    }


def jsonl_lines(request: HttpRequest, conversation_ids: Iterable[int]) -> Iterator[str]:
    for batch in export_batches(request, conversation_ids):
        for conversation in batch.conversations:
            yield json.dumps(conversation_record(batch, conversation), ensure_ascii=False) + "\n"


CSV_COLUMNS = [
    "conversation_id",
    "conversation_title",
    "user",
    "source",
    "review_status",
    "message_id",
    "role",
    "created_at",
    "status",
    "model",
    "content",
    "error",
    "prompt_tokens",
    "completion_tokens",
    "time_to_first_token",
    "duration",
    "thumbs_up",
    "thumbs_down",
    "feedback_comments",
    "image_urls",
]


class LineBuffer:
    """What csv.writer writes to: it hands each formatted row back instead of storing it."""

    def write(self, value: str) -> str:
        return value


def blank_if_none(value: object) -> object:
    return "" if value is None else value


# A spreadsheet runs a cell that starts with one of these as a formula
# (OWASP's CSV injection list): "=HYPERLINK(...)" typed into a chat would be
# live in the reviewer's spreadsheet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def cell(value: object) -> object:
    """A value as a CSV cell that a spreadsheet shows as text, never evaluates."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_rows(batch: ExportBatch, conversation: Conversation) -> Iterator[list[object]]:
    user, review_status = conversation.owner.get_username(), review_of(conversation).status
    for message in batch.messages[conversation.pk]:
        feedback = batch.feedback[message["id"]]
        yield [
            cell(value)
            for value in [
                conversation.pk,
                conversation.title,
                user,
                conversation.source,
                review_status,
                message["id"],
                message["role"],
                iso(message["created_at"]),
                message["status"],
                message["model"],
                message["content"],
                message["error"],
                blank_if_none(message["prompt_tokens"]),
                blank_if_none(message["completion_tokens"]),
                blank_if_none(message["time_to_first_token"]),
                blank_if_none(message["duration"]),
                sum(1 for item in feedback if item["vote"] == Feedback.Vote.UP),
                sum(1 for item in feedback if item["vote"] == Feedback.Vote.DOWN),
                "\n".join(item["comment"] for item in feedback if item["comment"]),
                " ".join(batch.image_urls[message["id"]]),
            ]
        ]


def csv_lines(request: HttpRequest, conversation_ids: Iterable[int]) -> Iterator[str]:
    writer = csv.writer(LineBuffer())
    yield writer.writerow(CSV_COLUMNS)
    for batch in export_batches(request, conversation_ids):
        for conversation in batch.conversations:
            yield "".join(writer.writerow(row) for row in csv_rows(batch, conversation))


async def pulled_in_batches(lines: Iterable[str], batch: int = 50) -> AsyncIterator[str]:
    """Serve a database-reading generator under ASGI without buffering all of it.

    Django consumes a plain generator whole before sending it to an ASGI
    server; this one pulls a few lines at a time in the request's thread.
    """
    iterator = iter(lines)
    take = sync_to_async(lambda: list(itertools.islice(iterator, batch)), thread_sensitive=True)
    while lines_read := await take():
        for line in lines_read:
            yield line


def export_response(
    request: HttpRequest, lines: Iterator[str], content_type: str, extension: str
) -> StreamingHttpResponse:
    filename = f"conversations-{timezone.now():%Y%m%d-%H%M%S}.{extension}"
    content: Iterator[str] | AsyncIterator[str] = (
        pulled_in_batches(lines) if isinstance(request, ASGIRequest) else lines
    )
    response = StreamingHttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def jsonl_response(request: HttpRequest, conversation_ids: Iterable[int]) -> StreamingHttpResponse:
    return export_response(request, jsonl_lines(request, conversation_ids), "application/jsonl; charset=utf-8", "jsonl")


def csv_response(request: HttpRequest, conversation_ids: Iterable[int]) -> StreamingHttpResponse:
    return export_response(request, csv_lines(request, conversation_ids), "text/csv; charset=utf-8", "csv")
