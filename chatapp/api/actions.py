"""Every write the API makes: tokens, and the conversation behind each request."""

from collections.abc import Callable

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from chatapp.api.completions import Completion
from chatapp.api.errors import invalid
from chatapp.api.models import ApiToken, CompletionRequest
from chatapp.chat.actions import ChatError, send_transcript
from chatapp.chat.models import Bot, Conversation, Message
from chatapp.images.actions import ImageAttacher, attacher_for, upload_image
from chatapp.images.processing import Rejected
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
    """Save the request's transcript as an API conversation with `bot` and queue the answer.

    Returns the queued reply (a chat Message).
    """
    attach = attach_images(token.user, completion.images) if completion.images else None
    with transaction.atomic():
        _, _, reply = send_transcript(token.user, completion.turns, bot, source=Conversation.Source.API, attach=attach)
        CompletionRequest.objects.create(
            reply=reply,
            token=token,
            max_tokens=completion.request.max_tokens,
            temperature=completion.request.temperature,
            stream=completion.request.stream,
        )
    return reply
