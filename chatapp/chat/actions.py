"""Every write that changes a conversation, and the notification that follows it.

Views, the websocket consumer and the API validate their input and call these;
nothing else writes conversations or messages (an answer's own moves, from
queued to finished, are in `lifecycle.py`). Listeners are always told once the
write has committed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, cast

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from chatapp.chat import lifecycle, live
from chatapp.chat.errors import ChatError, NotFound
from chatapp.chat.events import MessagePayload, conversation_event, user_group
from chatapp.chat.extensions import registry
from chatapp.chat.gate import AnswerPath, admit
from chatapp.chat.lifecycle import notify_message
from chatapp.chat.models import Bot, Conversation, Message

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


class Attacher(Protocol):
    """Links images chosen beforehand to the message that carries them."""

    count: int

    def __call__(self, message: Message) -> None: ...


def notify_conversation(conversation: Conversation, deleted: bool = False) -> None:
    event = conversation_event(conversation, deleted=deleted)
    group = user_group(conversation.owner_id)
    transaction.on_commit(lambda: live.notify(group, event))


def resolve_bot(user: User, slug: str | None) -> Bot | None:
    """The bot named `slug` that `user` may talk to (NotFound when there is none), or their default one."""
    if slug:
        try:
            return Bot.objects.visible_to(user).get(slug=slug)
        except Bot.DoesNotExist:
            raise NotFound("bot") from None
    return Bot.objects.default_for(user)


def check_bot_allowed(conversation: Conversation) -> None:
    """A conversation goes on only with a bot its owner may still use (groups change)."""
    if conversation.bot_id and not Bot.objects.visible_to(conversation.owner).filter(pk=conversation.bot_id).exists():
        raise NotFound("bot")


def check_bot_reads_images(bot: Bot | None, images: int) -> None:
    """A knowledge-base bot answers from entries' text only: an image would be ignored, so it is refused."""
    if images and bot is not None and bot.uses_knowledge_base:
        raise ChatError(
            f"{bot.name} answers from the team's knowledge base and cannot read images. "
            "Remove the image and ask in words, or ask another bot about it."
        )


def check_storable(text: str) -> None:
    """Refuse what the database cannot store: NUL, and surrogates with no pair (not text at all)."""
    if "\x00" in text:
        raise ChatError("The text contains a NUL character, which cannot be stored: remove it and send again.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ChatError(
            "The text contains an unpaired surrogate, which is not text: remove it and send again."
        ) from None


def check_length(text: str) -> None:
    check_storable(text)
    if len(text) > settings.MAX_MESSAGE_CHARS:
        raise ChatError(f"The message is too long ({len(text)} characters; the limit is {settings.MAX_MESSAGE_CHARS}).")


def check_image_count(count: int) -> None:
    limit = settings.MAX_IMAGES_PER_MESSAGE
    if count > limit:
        raise ChatError(
            f"A message can carry at most {limit} images; this one has {count}. Remove {count - limit} and send again."
        )


def validate_question(text: object, images: int = 0) -> str:
    """The text of a question fit to send, stripped; raises ChatError with the reason.

    The one rule for the browser and the API: text, images or both (a
    screenshot alone is a question), within the message limits.
    """
    if text is None:
        text = ""
    if not isinstance(text, str) or not (text.strip() or images):
        raise ChatError("Type a message first.")
    check_length(text)
    check_image_count(images)
    return text.strip()


@dataclass(frozen=True)
class Sent:
    """A question saved with its queued answer, and what the conversation's listeners were told of each."""

    conversation: Conversation
    created: bool  # the question started `conversation`
    question: Message
    reply: Message
    question_payload: MessagePayload
    reply_payload: MessagePayload


@dataclass(frozen=True)
class Turn:
    """One message of a transcript a client sends whole (the API)."""

    role: str
    text: str
    images: int = 0  # how many images the client attached to it


def send_message(
    user: User,
    text: object,
    conversation_id: int | None = None,
    bot_slug: str | None = None,
    source: str = Conversation.Source.WEB,
    attach: Attacher | None = None,
    path: AnswerPath = AnswerPath.SEND,
) -> Sent:
    """Save the user's message and a queued answer, then queue its generation.

    `attach(message)` links already-uploaded images to the new user message
    inside the same transaction (see chatapp.images.actions.attacher_for).
    Listeners are told once it is committed.
    """
    text = validate_question(text, images=attach.count if attach else 0)
    with transaction.atomic():
        created = conversation_id is None
        if conversation_id is None:
            conversation = _start_conversation(user, text, resolve_bot(user, bot_slug), source)
        else:
            conversation = _owned_conversation(user, conversation_id, locked=True)
            _check_idle(conversation)
        check_bot_reads_images(conversation.bot, attach.count if attach else 0)
        follows = None if created else _follows_current(conversation)
        question, reply = _ask(conversation, text, attach, path, follows)
        return _notify_turn(conversation, created, question, reply)


def send_transcript(
    user: User,
    turns: list[Turn],
    bot: Bot | None,
    source: str = Conversation.Source.API,
    attach: Callable[[int, Message], None] | None = None,
) -> Sent:
    """Start a conversation with `bot` from a whole transcript and queue the answer to its last turn.

    For stateless clients (the API) that send the history with every request.
    `turns` ends with the user's question; the earlier ones are saved as
    finished messages, the assistant's marked as the client's words
    (`Message.from_client`), not the bot's.
    `attach(index, message)` links images to the user message of turn `index`.
    Callers may wrap this in their own transaction to save more with it: the
    answer is queued and listeners told only once everything is committed.
    """
    if not turns or turns[-1].role != Message.Role.USER:
        raise ChatError("The last message must be the user's.")
    checked = []
    for turn in turns:
        if turn.role == Message.Role.USER:
            checked.append(Turn(turn.role, validate_question(turn.text, images=turn.images), turn.images))
        else:
            check_length(turn.text)
            checked.append(turn)
    *earlier, last = checked
    first_question = next(turn.text for turn in checked if turn.role == Message.Role.USER)
    check_bot_reads_images(bot, sum(turn.images for turn in checked))
    with transaction.atomic():
        conversation = _start_conversation(user, first_question, bot, source)
        previous: Message | None = None
        for index, turn in enumerate(earlier):
            previous = Message.objects.create(
                conversation=conversation,
                parent=previous,
                role=turn.role,
                content=turn.text,
                from_client=turn.role == Message.Role.ASSISTANT,
            )
            if attach and turn.role == Message.Role.USER:
                attach(index, previous)
        question, reply = _ask(
            conversation, last.text, _attach_turn(attach, len(earlier)) if attach else None, AnswerPath.API, previous
        )
        return _notify_turn(conversation, True, question, reply)


def _attach_turn(attach: Callable[[int, Message], None], index: int) -> Callable[[Message], None]:
    return lambda message: attach(index, message)


def _start_conversation(user: User, text: str, bot: Bot | None, source: str) -> Conversation:
    conversation = Conversation(owner=user, bot=bot, source=source)
    conversation.title = conversation.title_from(text)
    conversation.save()
    return conversation


def _ask(
    conversation: Conversation,
    text: str,
    attach: Callable[[Message], None] | None,
    path: AnswerPath,
    follows: Message | int | None,
) -> tuple[Message, Message]:
    """Inside the caller's transaction: the user's message, following `follows`
    (a message or its id; None starts a branch of its own), and its queued answer."""
    check_bot_allowed(conversation)
    question = Message(conversation=conversation, role=Message.Role.USER, content=text)
    if isinstance(follows, int):
        question.parent_id = follows
    else:
        question.parent = follows
    question.save()
    if attach:
        attach(question)
    return question, start_answer(conversation, question, path)


def _follows_current(conversation: Conversation) -> Message | int | None:
    """The end of the branch the user is on: by its id when the conversation names it
    (nothing of it is needed but the link), else the newest message."""
    if conversation.current_id is not None:
        return conversation.current_id
    return conversation.messages.order_by("created_at", "id").last()


def start_answer(conversation: Conversation, question: Message, path: AnswerPath) -> Message:
    """A queued answer to `question`, made the end of the branch the user sees.

    The one way a new answer is made: it passes the gate first (rate, today's
    tokens, answers at once; see chatapp.chat.gate), inside the caller's
    transaction, which a refusal leaves without anything saved.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("start_answer() runs inside the transaction that saves the answer")
    admit(conversation.owner, path)
    reply = Message.objects.create(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        status=Message.Status.QUEUED,
        queued_at=timezone.now(),
        model=(conversation.bot.model_name if conversation.bot else settings.INFERENCE_MODEL),
        parent=question,
    )
    conversation.current = reply
    conversation.updated_at = timezone.now()
    conversation.save(update_fields=["current", "updated_at"])
    lifecycle.queue(reply)
    return reply


def _check_idle(conversation: Conversation) -> None:
    if conversation.messages.filter(status__in=Message.ACTIVE).exists():
        raise ChatError("An answer is still being written: wait for it or stop it first.")


def _locked_conversation(user: User, message: Message) -> Conversation:
    """The conversation of the user's `message`, locked for a change to its branches."""
    return _owned_conversation(user, message.conversation_id, locked=True)


def owned_message(user: User | AnonymousUser, message_id: int, role: str | None = None) -> Message:
    """The user's own message `message_id`, or NotFound."""
    found = Message.objects.visible_to(user).select_related("conversation").filter(pk=message_id)
    if role:
        found = found.filter(role=role)
    message = found.first()
    if message is None:
        raise NotFound("message")
    return message


def retry_reply(user: User, message_id: int) -> Message:
    """Answer the same question again as a new version of the answer.

    The earlier answer stays whatever its end (done, stopped, failed), with
    its text and its failure: browsable with the versions, counted in the
    error figures, seen by reviewers. Returns the new queued answer.
    """
    previous = owned_reply(user, message_id)
    if not previous.is_finished:
        raise ChatError("This answer is still being written: wait for it or stop it first.")
    if previous.parent_id is None:
        raise ChatError("This answer has no question to answer again.")
    check_bot_allowed(previous.conversation)
    with transaction.atomic():
        conversation = _locked_conversation(user, previous)
        _check_idle(conversation)
        # It has a question: checked above.
        reply = start_answer(conversation, cast(Message, previous.parent), AnswerPath.RETRY)
    notify_message(reply)
    notify_conversation(conversation)
    return reply


def edit_question(user: User, message_id: int, text: object) -> Sent:
    """Ask an edited question in place of `message_id`, and queue its answer.

    The old question and everything after it stay, browsable as another
    branch; the edited question keeps the original's images.
    """
    original = owned_message(user, message_id, role=Message.Role.USER)
    images = registry.images.count_on(original) if registry.images is not None else 0
    text = validate_question(text, images=images)
    with transaction.atomic():
        conversation = _locked_conversation(user, original)
        _check_idle(conversation)

        def keep_images(question: Message) -> None:
            if registry.images is not None:
                registry.images.copy(original, question)

        question, reply = _ask(conversation, text, keep_images if images else None, AnswerPath.EDIT, original.parent_id)
    return _notify_turn(conversation, False, question, reply)


def choose_version(user: User, message_id: int) -> Conversation:
    """Show the branch through version `message_id` (its newest continuation)."""
    message = owned_message(user, message_id)
    with transaction.atomic():
        conversation = _locked_conversation(user, message)
        thread = conversation.thread()
        conversation.current = thread.latest_leaf(thread.by_id[message.pk])
        conversation.save(update_fields=["current"])
    notify_conversation(conversation)
    return conversation


def pin_conversation(user: User, conversation_id: int, pinned: bool = True) -> Conversation:
    conversation = _owned_conversation(user, conversation_id)
    conversation.pinned_at = timezone.now() if pinned else None
    conversation.save(update_fields=["pinned_at"])
    notify_conversation(conversation)
    return conversation


def archive_conversation(user: User, conversation_id: int, archived: bool = True) -> Conversation:
    """Archived conversations leave the list but stay searchable and can be brought back."""
    conversation = _owned_conversation(user, conversation_id)
    conversation.archived_at = timezone.now() if archived else None
    conversation.save(update_fields=["archived_at"])
    notify_conversation(conversation)
    return conversation


def _owned_conversation(user: User, conversation_id: int, *, locked: bool = False) -> Conversation:
    """The user's conversation `conversation_id` (`locked` for a change to its branches), or NotFound."""
    found = Conversation.objects.visible_to(user)
    conversation = (found.locked() if locked else found).filter(pk=conversation_id).first()
    if conversation is None:
        raise NotFound()
    return conversation


def _notify_turn(conversation: Conversation, created: bool, question: Message, reply: Message) -> Sent:
    question_payload, reply_payload = notify_message(question), notify_message(reply)
    notify_conversation(conversation)
    return Sent(conversation, created, question, reply, question_payload, reply_payload)


def owned_reply(user: User | AnonymousUser, message_id: int) -> Message:
    """The user's own answer `message_id`, or NotFound (whoever else owns it)."""
    return owned_message(user, message_id, Message.Role.ASSISTANT)


def stop_reply(user: User | AnonymousUser, message_id: int) -> Message:
    reply = owned_reply(user, message_id)
    lifecycle.stop(reply)
    return reply


def continue_reply(user: User, message_id: int) -> Message:
    """Continue an answer cut at the length limit: the model writes on, appending to the same answer."""
    reply = owned_reply(user, message_id)
    check_bot_allowed(reply.conversation)
    if not restart_answer(user, reply, AnswerPath.CONTINUE):
        raise ChatError("Only an answer cut at the length limit can be continued.")
    return reply


def restart_answer(user: User, reply: Message, path: AnswerPath) -> bool:
    """A new attempt at the user's `reply` that writes on from its text (Continue),
    through the gate; False if it cannot restart.

    The one way an existing answer is queued again; every new answer is made
    by `start_answer`.
    """
    with transaction.atomic():
        admission = admit(user, path)
        return lifecycle.continue_answer(reply, admission)


def rename_conversation(user: User, conversation_id: int, title: str | None) -> Conversation:
    title = " ".join((title or "").split())[:200]
    check_storable(title)
    if not title:
        raise ChatError("A title cannot be empty.")
    conversation = _owned_conversation(user, conversation_id)
    conversation.title = title
    conversation.save(update_fields=["title"])
    notify_conversation(conversation)
    return conversation


def retitle_conversation(conversation: Conversation, expected: str, title: str) -> bool:
    """Give `conversation` the model's `title` if it still has the `expected` one (the user may have renamed it)."""
    if not Conversation.objects.filter(pk=conversation.pk, title=expected).update(title=title):
        return False
    conversation.title = title
    notify_conversation(conversation)
    return True


def delete_conversation(user: User, conversation_id: int) -> None:
    found = Conversation.objects.visible_to(user).filter(pk=conversation_id)
    if not delete_conversations(found):
        raise NotFound()


def _request_stops(message_ids: list[int]) -> None:
    for message_id in message_ids:
        live.request_stop(message_id)


def delete_conversations(conversations: QuerySet[Conversation]) -> int:
    """Delete `conversations`; once committed, their generations stop and open sockets are told.

    The one way conversations are deleted, by their owner or by a retention
    purge. Returns how many were deleted.
    """
    with transaction.atomic():
        doomed = list(conversations.select_for_update())
        if not doomed:
            return 0
        generating = list(
            Message.objects.filter(conversation__in=doomed, status__in=Message.ACTIVE).values_list("pk", flat=True)
        )
        Conversation.objects.filter(pk__in=[conversation.pk for conversation in doomed]).delete()
        for conversation in doomed:
            notify_conversation(conversation, deleted=True)
        # The flag reaches whichever worker holds a generation.
        transaction.on_commit(lambda: _request_stops(generating))
    return len(doomed)
