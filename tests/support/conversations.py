"""What the actors have said: bots, conversations of finished answers, answers awaited."""

import time
from datetime import timedelta

from django.utils import timezone


def ensure_bots():
    """The two bots the data migration makes ("assistant", the default, and "team-faq").

    Transactional tests empty the tables the migration filled: this makes them again.
    """
    from chatapp.chat.models import Bot

    assistant, _ = Bot.objects.get_or_create(slug="assistant", defaults={"name": "Assistant", "is_default": True})
    team_faq, _ = Bot.objects.get_or_create(
        slug="team-faq",
        defaults={"name": "Team FAQ", "uses_knowledge_base": True, "temperature": 0.0, "position": 1},
    )
    return {"assistant": assistant, "team-faq": team_faq}


def converse(owner, exchanges, title="A conversation", source="web", age=timedelta(0), model="test-model", bot=None):
    """A conversation of finished answers, `age` old.

    `exchanges` is a list of (question, answer) or (question, answer, fields);
    an answer of None leaves the question unanswered.
    """
    from chatapp.chat.models import Conversation, Message

    moment = timezone.now() - age
    conversation = Conversation.objects.create(
        owner=owner, title=title, source=source, bot=bot, created_at=moment, updated_at=moment
    )
    for number, (question, answer, *extra) in enumerate(exchanges):
        at = moment + timedelta(seconds=2 * number)
        Message.objects.append(conversation=conversation, role=Message.Role.USER, content=question, created_at=at)
        if answer is None:
            continue
        fields = {
            "status": Message.Status.DONE,
            "model": model,
            "prompt_tokens": 20,
            "completion_tokens": 40,
            "time_to_first_token": 0.25,
            "duration": 1.25,
            "started_at": at,
            "finished_at": at + timedelta(seconds=1),
            **(extra[0] if extra else {}),
        }
        Message.objects.append(
            conversation=conversation,
            role=Message.Role.ASSISTANT,
            content=answer,
            created_at=at + timedelta(seconds=1),
            **fields,
        )
    return conversation


def awaited_answer(conversation, status="queued"):
    """A new answer at the end of `conversation`, not written yet."""
    from chatapp.chat.models import Message

    last = conversation.messages.order_by("created_at", "id").last()
    at = last.created_at + timedelta(seconds=1) if last else timezone.now()
    return Message.objects.append(conversation=conversation, role=Message.Role.ASSISTANT, status=status, created_at=at)


def wait_until_finished(reply, timeout=240):
    """The answer `reply` (a Message or its id) once it is no longer queued or being written."""
    from chatapp.chat.models import Message

    message_id = reply if isinstance(reply, int) else reply.pk
    deadline = time.monotonic() + timeout
    while True:
        message = Message.objects.get(pk=message_id)
        if not message.is_active:
            if isinstance(reply, Message):
                reply.refresh_from_db()
            return message
        if time.monotonic() > deadline:
            raise AssertionError(f"message {message_id} was still {message.status} after {timeout} s")
        time.sleep(0.1)


def question_of(conversation, number=0):
    from chatapp.chat.models import Message

    return conversation.messages.filter(role=Message.Role.USER).order_by("created_at", "id")[number]


def answer_of(conversation, number=0):
    from chatapp.chat.models import Message

    return conversation.messages.filter(role=Message.Role.ASSISTANT).order_by("created_at", "id")[number]
