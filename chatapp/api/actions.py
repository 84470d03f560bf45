"""Every write the API makes: tokens, and the conversation behind each request."""

from django.db import transaction
from django.utils import timezone

from chatapp.api.errors import BadRequest
from chatapp.api.models import ApiToken, CompletionRequest
from chatapp.chat.actions import ChatError, send_transcript
from chatapp.chat.models import Conversation
from chatapp.images.actions import attacher_for, upload_image
from chatapp.images.processing import Rejected, check_pixel_budget


def create_token(user, name=""):
    """A new token for `user`; returns (token, secret). The secret is shown once."""
    token = ApiToken(user=user, name=name)
    secret = token.new_secret()
    token.save()
    return token, secret


def revoke_tokens(tokens):
    return tokens.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


def attach_images(user, images):
    """Store the request's images as uploads, checked like the browser's; returns attach(turn, message).

    `images` maps a turn's index to its pictures as (param, bytes). A picture
    that is refused raises BadRequest with the reason and where it was.
    """
    try:
        check_pixel_budget([(param, data) for pictures in images.values() for param, data in pictures])
    except Rejected as rejected:
        raise BadRequest(rejected.reason, param=rejected.label, code="invalid_image") from None
    attachers = {}
    for index, pictures in images.items():
        attachments = []
        for number, (param, data) in enumerate(pictures, 1):
            try:
                attachments.append(upload_image(user, data, f"image-{number}"))
            except Rejected as rejected:
                raise BadRequest(rejected.reason, param=param, code="invalid_image") from None
        try:
            attachers[index] = attacher_for(user, [attachment.pk for attachment in attachments])
        except ChatError as error:
            raise BadRequest(str(error), param="messages") from None

    def attach(index, message):
        if index in attachers:
            attachers[index](message)

    return attach


def start_completion(token, completion):
    """Save the request's transcript as an API conversation and queue the answer.

    `completion` is a chatapp.api.completions.CompletionInput. Returns the
    queued reply (a chat Message).
    """
    attach = attach_images(token.user, completion.images) if completion.images else None
    with transaction.atomic():
        _, _, reply = send_transcript(
            token.user, completion.turns, bot_slug=completion.model, source=Conversation.Source.API, attach=attach
        )
        CompletionRequest.objects.create(
            reply=reply,
            token=token,
            max_tokens=completion.max_tokens,
            temperature=completion.temperature,
            stream=completion.stream,
        )
    return reply

