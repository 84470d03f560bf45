"""Conversations as JSONL (OpenAI chat format) and messages as CSV, streamed.

Rows come from the database in chunks (`.iterator(chunk_size=...)` with its
prefetches), so an export of every conversation never holds them all in memory.
"""

import csv
import itertools
import json

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.db.models import Prefetch
from django.http import StreamingHttpResponse
from django.utils import timezone

from chatapp.chat.models import Conversation, Message
from chatapp.review.models import ConversationReview, Feedback

CHUNK_SIZE = 200


def message_prefetches():
    return [Prefetch("feedback", queryset=Feedback.objects.select_related("user").order_by("id")), "images"]


def conversations_for_export(conversation_ids):
    messages = Message.objects.order_by("created_at", "id").prefetch_related(*message_prefetches())
    return (
        Conversation.objects.filter(pk__in=conversation_ids)
        .select_related("owner", "bot", "review__reviewed_by")
        .prefetch_related(Prefetch("messages", queryset=messages))
        .order_by("pk")
    )


def messages_for_export(conversation_ids):
    return (
        Message.objects.filter(conversation__in=conversation_ids)
        .select_related("conversation__owner", "conversation__review")
        .prefetch_related(*message_prefetches())
        .order_by("conversation_id", "created_at", "id")
    )


def iso(moment):
    return moment.isoformat() if moment else None


def review_fields(conversation):
    review = getattr(conversation, "review", None)
    if review is None:
        return {"status": ConversationReview.Status.UNREVIEWED.value, "notes": "", "reviewed_by": None, "reviewed_at": None}
    return {
        "status": review.status,
        "notes": review.notes,
        "reviewed_by": review.reviewed_by.get_username() if review.reviewed_by else None,
        "reviewed_at": iso(review.reviewed_at),
    }


def feedback_fields(message):
    return [
        {"user": item.user.get_username(), "vote": item.vote, "comment": item.comment, "at": iso(item.updated_at)}
        for item in message.feedback.all()
    ]


def image_urls(request, message):
    urls = []
    for image in message.images.all():
        url = image.as_event().get("url")
        if url:
            urls.append(request.build_absolute_uri(url))
    return urls


def openai_message(request, message):
    """One message as the OpenAI chat format has it; images as URLs to the authorised image view."""
    urls = image_urls(request, message) if message.role == Message.Role.USER else []
    if not urls:
        return {"role": message.role, "content": message.content}
    parts = [{"type": "text", "text": message.content}] if message.content else []
    parts += [{"type": "image_url", "image_url": {"url": url}} for url in urls]
    return {"role": message.role, "content": parts}


def conversation_record(request, conversation):
    messages = list(conversation.messages.all())
    return {
        "messages": [openai_message(request, message) for message in messages],
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
                    "id": message.pk,
                    "status": message.status,
                    "error": message.error,
                    "model": message.model,
                    "created_at": iso(message.created_at),
                    "prompt_tokens": message.prompt_tokens,
                    "completion_tokens": message.completion_tokens,
                    "time_to_first_token": message.time_to_first_token,
                    "duration": message.duration,
                    "feedback": feedback_fields(message),
                }
                for message in messages
            ],
        },
    }


def jsonl_lines(request, conversation_ids):
    for conversation in conversations_for_export(conversation_ids).iterator(chunk_size=CHUNK_SIZE):
        yield json.dumps(conversation_record(request, conversation), ensure_ascii=False) + "\n"


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

    def write(self, value):
        return value


def blank_if_none(value):
    return "" if value is None else value


def csv_row(request, message):
    conversation = message.conversation
    feedback = list(message.feedback.all())
    return [
        conversation.pk,
        conversation.title,
        conversation.owner.get_username(),
        conversation.source,
        review_fields(conversation)["status"],
        message.pk,
        message.role,
        iso(message.created_at),
        message.status,
        message.model,
        message.content,
        message.error,
        blank_if_none(message.prompt_tokens),
        blank_if_none(message.completion_tokens),
        blank_if_none(message.time_to_first_token),
        blank_if_none(message.duration),
        sum(1 for item in feedback if item.vote == Feedback.Vote.UP),
        sum(1 for item in feedback if item.vote == Feedback.Vote.DOWN),
        "\n".join(item.comment for item in feedback if item.comment),
        " ".join(image_urls(request, message)),
    ]


def csv_lines(request, conversation_ids):
    writer = csv.writer(LineBuffer())
    yield writer.writerow(CSV_COLUMNS)
    for message in messages_for_export(conversation_ids).iterator(chunk_size=CHUNK_SIZE * 10):
        yield writer.writerow(csv_row(request, message))


async def pulled_in_batches(lines, batch=50):
    """Serve a database-reading generator under ASGI without buffering all of it.

    Django consumes a plain generator whole before sending it to an ASGI
    server; this one pulls a few lines at a time in the request's thread.
    """
    iterator = iter(lines)
    take = sync_to_async(lambda: list(itertools.islice(iterator, batch)), thread_sensitive=True)
    while lines_read := await take():
        for line in lines_read:
            yield line


def export_response(request, lines, content_type, extension):
    filename = f"conversations-{timezone.now():%Y%m%d-%H%M%S}.{extension}"
    content = pulled_in_batches(lines) if isinstance(request, ASGIRequest) else lines
    response = StreamingHttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def jsonl_response(request, conversation_ids):
    return export_response(request, jsonl_lines(request, conversation_ids), "application/jsonl; charset=utf-8", "jsonl")


def csv_response(request, conversation_ids):
    return export_response(request, csv_lines(request, conversation_ids), "text/csv; charset=utf-8", "csv")
