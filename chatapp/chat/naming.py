"""Titles written by the model, for models capable of it (settings.TITLE_MODELS).

Once a conversation's first answer is done, one short non-streamed request
asks for a title; it replaces the key-word title unless the user renamed the
conversation meanwhile. Any failure keeps the key-word title: naming never
delays or breaks an answer.
"""

import logging
import re

import httpx
from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import transaction

from chatapp.chat.models import Conversation, Message
from chatapp.chat.titles import MAX_CHARS, title_for
from inference.client import InferenceError, chat_completion

log = logging.getLogger(__name__)

TITLE_CONVERSATION = "chatapp.chat.tasks.title_conversation"
INSTRUCTIONS = (
    "You name conversations. Reply with a title of at most six words for the conversation below: "
    "its topic, in the language of the question, without quotes or a final full stop."
)


def wants_title(reply: Message) -> bool:
    """Whether `reply`, just finished, is the first answer of a conversation a capable model may title."""
    if reply.status != Message.Status.DONE or reply.role != Message.Role.ASSISTANT or not reply.content:
        return False
    if reply.model not in settings.TITLE_MODELS:
        return False
    question = reply.parent
    return question is not None and question.parent_id is None


def title_from_model(reply: Message) -> str | None:
    """The model's title for the conversation `reply` answers, cleaned, or None."""
    question = reply.parent
    assert question is not None  # wants_title checked it
    messages = [
        {"role": "system", "content": INSTRUCTIONS},
        {"role": "user", "content": f"Question: {question.content[:2000]}\n\nAnswer: {reply.content[:2000]}"},
    ]
    priority = {"priority": settings.INFERENCE_TITLE_PRIORITY} if settings.INFERENCE_TITLE_PRIORITY else None

    async def ask() -> str:
        async with httpx.AsyncClient() as client:
            return await chat_completion(
                client,
                base_url=settings.INFERENCE_URL,
                api_key=settings.INFERENCE_API_KEY,
                model=reply.model,
                messages=messages,
                max_tokens=20,
                temperature=0.0,
                timeout=settings.TITLE_TIMEOUT,
                extra_body=priority,
            )

    try:
        text = async_to_sync(ask)()
    except InferenceError as error:
        log.warning("No title from the model, the key-word title stays: %s", error.reason)
        return None
    first_line = text.strip().splitlines()[0] if text.strip() else ""
    title = " ".join(re.sub(r'^(title:\s*)|["“”*#]', "", first_line, flags=re.IGNORECASE).split()).rstrip(".")
    if not title or len(title) > MAX_CHARS:
        return None
    return title


def queue_title(reply: Message) -> None:
    from celery import current_app

    message_id = reply.pk
    transaction.on_commit(lambda: current_app.send_task(TITLE_CONVERSATION, args=[message_id]))


def model_title(message_id: int) -> tuple[Conversation, str, str] | None:
    """For answer `message_id`: its conversation, the key-word title it should still have, and the model's title."""
    reply = Message.objects.select_related("parent", "conversation").filter(pk=message_id).first()
    if reply is None or not wants_title(reply):
        return None
    question = reply.parent
    assert question is not None
    title = title_from_model(reply)
    if title is None:
        return None
    return reply.conversation, title_for(question.content), title
