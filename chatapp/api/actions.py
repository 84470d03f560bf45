"""Every write the API makes: tokens, and the conversation behind each request."""

from collections.abc import Callable

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from chatapp.api.completions import Completion
from chatapp.api.models import ApiToken, CompletionRequest
from chatapp.chat.actions import send_message, send_transcript
from chatapp.chat.errors import ChatError
from chatapp.chat.gate import AnswerPath
from chatapp.chat.models import Bot, Conversation, Message
from chatapp.images.actions import ImageAttacher, attacher_for, upload_image
from chatapp.images.processing import Rejected
from inference.errors import invalid
from inference.images import ImagePart


def create_token(user: User, name: str = "", *, token: ApiToken | None = None) -> tuple[ApiToken, str]:
    """A new token for `user` (or `token`, unsaved, as the admin's form made it); returns (token, secret).

    The secret is shown once: only its hash is kept.
    """
    if token is None:
        token = ApiToken(user=user, name=name)
    secret = token.new_secret()
    token.save()
    return token, secret


def revoke_tokens(tokens: QuerySet[ApiToken]) -> int:
    return tokens.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


def attach_images(user: User, images: dict[int, list[ImagePart]]) -> Callable[[int, Message], None]:
    """Store the request's images as uploads, checked like the browser's; returns attach(turn, message).

    `images` maps a turn's index to its pictures. A picture that is refused
    raises APIError (400) with the reason and where it was.
    """
    attachers: dict[int, ImageAttacher] = {}
    for index, pictures in images.items():
        attachments = []
        for number, picture in enumerate(pictures, 1):
            try:
                attachments.append(upload_image(user, picture.decode(), f"image-{number}"))
            except Rejected as rejected:
                raise invalid(rejected.reason, param=picture.param, code="invalid_image") from None
        try:
            attachers[index] = attacher_for(user, [attachment.pk for attachment in attachments])
        except ChatError as error:
            raise invalid(str(error), param="messages") from None

    def attach(index: int, message: Message) -> None:
        if index in attachers:
            attachers[index](message)

    return attach


def start_completion(token: ApiToken, completion: Completion, bot: Bot) -> Message:
    """Save the request as an API conversation with `bot` and queue the answer.

    A client that re-sends the history of its previous request with that
    request's answer continues the same conversation: only its new question
    is stored (an OpenAI client re-sends everything on every turn, which
    would otherwise store n²/2 messages over n turns). Anything else starts
    a conversation from the transcript. Returns the queued reply (a chat Message).
    """
    attach = attach_images(token.user, completion.images) if completion.images else None
    with transaction.atomic():
        continued = _continued_conversation(token.user, completion, bot)
        if continued is not None:
            last = len(completion.turns) - 1
            reply = send_message(
                token.user,
                completion.turns[-1].text,
                conversation_id=continued.pk,
                source=Conversation.Source.API,
                attach=_LastTurnImages(attach, last, completion.turns[-1].images) if attach else None,
                path=AnswerPath.API,
            ).reply
        else:
            reply = send_transcript(
                token.user, completion.turns, bot, source=Conversation.Source.API, attach=attach
            ).reply
        CompletionRequest.objects.create(
            reply=reply,
            token=token,
            max_tokens=completion.request.max_tokens,
            temperature=completion.request.temperature,
            stream=completion.request.stream,
            history_digest=completion.digest,
        )
    return reply


class _LastTurnImages:
    """The images of the question, for a continued conversation (send_message's attacher)."""

    def __init__(self, attach: Callable[[int, Message], None], index: int, count: int) -> None:
        self.attach, self.index, self.count = attach, index, count

    def __call__(self, message: Message) -> None:
        self.attach(self.index, message)


def _continued_conversation(user: User, completion: Completion, bot: Bot) -> Conversation | None:
    """The user's API conversation that this request continues, if any (see start_completion)."""
    if not completion.earlier_digest or completion.previous_answer is None:
        return None
    earlier = (
        CompletionRequest.objects.filter(
            token__user=user,
            history_digest=completion.earlier_digest,
            reply__status=Message.Status.DONE,
            reply__content=completion.previous_answer,
            reply__conversation__owner=user,
            reply__conversation__bot=bot,
        )
        .select_related("reply__conversation")
        .order_by("-created_at")
        .first()
    )
    if earlier is None:
        return None
    conversation = earlier.reply.conversation
    # Only where that answer is still the end of the conversation (nothing was asked after it).
    if conversation.current_id not in (None, earlier.reply_id):
        return None
    if conversation.messages.order_by("-created_at", "-id").values_list("pk", flat=True).first() != earlier.reply_id:
        return None
    return conversation
