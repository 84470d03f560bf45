"""Every write that changes a conversation, and the notification that follows it.

Views, the websocket consumer and the API validate their input and call these;
nothing else writes conversations or messages (the worker's streaming writes
live in `streaming.py`).
"""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chatapp.chat import live
from chatapp.chat.events import (
    conversation_event,
    conversation_group,
    message_event,
    user_group,
)
from chatapp.chat.models import Bot, Conversation, Message


class ChatError(Exception):
    """A request that cannot be done, with a reason fit to show to the user."""


class NotFound(ChatError):
    def __init__(self, what="conversation"):
        super().__init__(f"No such {what}.")


def notify(group, event):
    async_to_sync(get_channel_layer().group_send)(group, event)


def notify_message(message):
    notify(conversation_group(message.conversation_id), message_event(message))


def notify_conversation(conversation, deleted=False):
    notify(user_group(conversation.owner_id), conversation_event(conversation, deleted=deleted))


def queue_reply(reply):
    from chatapp.chat.tasks import generate_reply

    transaction.on_commit(lambda: generate_reply.delay(reply.pk))


def resolve_bot(slug):
    if slug:
        try:
            return Bot.objects.get(slug=slug)
        except Bot.DoesNotExist:
            raise NotFound("bot") from None
    return Bot.default()


def validate_text(text, allow_empty=False):
    if allow_empty and (text is None or (isinstance(text, str) and not text.strip())):
        return ""
    if not isinstance(text, str) or not text.strip():
        raise ChatError("Type a message first.")
    if len(text) > settings.MAX_MESSAGE_CHARS:
        raise ChatError(f"The message is too long ({len(text)} characters; the limit is {settings.MAX_MESSAGE_CHARS}).")
    return text.strip()


def send_message(user, text, conversation_id=None, bot_slug=None, source=Conversation.Source.WEB, attach=None):
    """Save the user's message and a queued answer, then queue its generation.

    `attach(message)` links already-uploaded images to the new user message
    inside the same transaction. Returns (conversation, created, question, reply).
    """
    # Images may speak for themselves: a screenshot alone is a question.
    text = validate_text(text, allow_empty=attach is not None)
    with transaction.atomic():
        created = conversation_id is None
        if created:
            conversation = _start_conversation(user, text, bot_slug, source)
        else:
            conversation = (
                Conversation.objects.visible_to(user).select_for_update().filter(pk=conversation_id).first()
            )
            if conversation is None:
                raise NotFound()
            if conversation.messages.filter(status__in=Message.ACTIVE).exists():
                raise ChatError("An answer is still being written: wait for it or stop it first.")
        question, reply = _ask(conversation, text, attach)
    _notify_turn(conversation, question, reply)
    return conversation, created, question, reply


def send_transcript(user, turns, bot_slug=None, source=Conversation.Source.API, attach=None):
    """Start a conversation from a whole transcript and queue the answer to its last turn.

    For stateless clients (the API) that send the history with every request.
    `turns` is a list of (role, text) pairs, oldest first, ending with the
    user's question; the earlier ones are saved as finished messages.
    `attach(index, message)` links images to the user message of turn `index`.
    Callers may wrap this in their own transaction to save more with it: the
    answer is queued and listeners told only once everything is committed.
    Returns (conversation, question, reply).
    """
    if not turns or turns[-1][0] != Message.Role.USER:
        raise ChatError("The last message must be the user's.")
    checked = []
    for role, text in turns:
        if role == Message.Role.USER:
            checked.append((role, validate_text(text)))
        elif len(text) > settings.MAX_MESSAGE_CHARS:
            raise ChatError(f"A message is too long ({len(text)} characters; the limit is {settings.MAX_MESSAGE_CHARS}).")
        else:
            checked.append((role, text))
    *earlier, (_, text) = checked
    first_question = next(text for role, text in checked if role == Message.Role.USER)
    with transaction.atomic():
        conversation = _start_conversation(user, first_question, bot_slug, source)
        for index, (role, content) in enumerate(earlier):
            message = Message.objects.create(conversation=conversation, role=role, content=content)
            if attach and role == Message.Role.USER:
                attach(index, message)
        question, reply = _ask(conversation, text, attach and (lambda message: attach(len(earlier), message)))
        transaction.on_commit(lambda: _notify_turn(conversation, question, reply))
    return conversation, question, reply


def _start_conversation(user, text, bot_slug, source):
    bot = resolve_bot(bot_slug)
    conversation = Conversation(owner=user, bot=bot, source=source)
    conversation.title = conversation.title_from(text)
    conversation.save()
    return conversation


def _ask(conversation, text, attach):
    """Inside the caller's transaction: the user's message and its queued answer."""
    question = Message.objects.create(conversation=conversation, role=Message.Role.USER, content=text)
    if attach:
        attach(question)
    reply = Message.objects.create(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        status=Message.Status.QUEUED,
        model=(conversation.bot.model_name if conversation.bot else settings.INFERENCE_MODEL),
    )
    conversation.updated_at = timezone.now()
    conversation.save(update_fields=["updated_at"])
    queue_reply(reply)
    return question, reply


def _notify_turn(conversation, question, reply):
    notify_message(question)
    notify_message(reply)
    notify_conversation(conversation)


def owned_reply(user, message_id):
    """The user's own answer `message_id`, or NotFound (whoever else owns it)."""
    reply = (
        Message.objects.visible_to(user)
        .select_related("conversation")
        .filter(pk=message_id, role=Message.Role.ASSISTANT)
        .first()
    )
    if reply is None:
        raise NotFound("message")
    return reply


def stop_reply(user, message_id):
    reply = owned_reply(user, message_id)
    # The flag reaches whichever worker holds the generation; an answer still
    # waiting in the queue is stopped right here and its task finds nothing to do.
    live.request_stop(reply.pk)
    if reply.status == Message.Status.QUEUED and reply.finish(Message.Status.STOPPED):
        notify_message(reply)
    return reply


def retry_reply(user, message_id):
    reply = owned_reply(user, message_id)
    with transaction.atomic():
        if not reply.requeue():
            raise ChatError("Only a failed or stopped answer can be retried.")
        live.clear_stop(reply.pk)
        queue_reply(reply)
    notify_message(reply)
    return reply


def reap_if_orphaned(reply):
    """End a generation whose worker stopped renewing its lease (it died)."""
    if reply.status != Message.Status.STREAMING or live.lease_held(reply.pk):
        return False
    started = reply.started_at or reply.created_at
    if (timezone.now() - started).total_seconds() < settings.GENERATION_LEASE_SECONDS:
        return False
    if reply.finish(
        Message.Status.ERROR,
        error="The worker writing this answer stopped unexpectedly. Retry to ask again.",
    ):
        notify_message(reply)
        return True
    return False


def rename_conversation(user, conversation_id, title):
    title = " ".join((title or "").split())[:200]
    if not title:
        raise ChatError("A title cannot be empty.")
    conversation = Conversation.objects.visible_to(user).filter(pk=conversation_id).first()
    if conversation is None:
        raise NotFound()
    conversation.title = title
    conversation.save(update_fields=["title"])
    notify_conversation(conversation)
    return conversation


def delete_conversation(user, conversation_id):
    conversation = Conversation.objects.visible_to(user).filter(pk=conversation_id).first()
    if conversation is None:
        raise NotFound()
    for reply in conversation.messages.filter(status__in=Message.ACTIVE):
        live.request_stop(reply.pk)
    conversation.delete()
    conversation.pk = conversation_id
    notify_conversation(conversation, deleted=True)
