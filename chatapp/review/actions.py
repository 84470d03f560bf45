"""Every write of the review domain: users' feedback, verdicts, audit entries, FAQ drafts, purges."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.utils import timezone

from chatapp.chat.actions import delete_conversations
from chatapp.chat.models import Conversation, Message
from chatapp.images.actions import delete_unreferenced_images
from chatapp.review.models import AuditEntry, ConversationReview, Feedback

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

    from chatapp.faq.models import FAQEntry

MAX_COMMENT_CHARS = 2000


class ReviewError(Exception):
    """A request that cannot be done, with a reason fit to show to the user."""


class NotFound(ReviewError):
    def __init__(self, what: str = "message") -> None:
        super().__init__(f"No such {what}.")


def record_audit(
    user: User | AnonymousUser | None,
    action: str,
    obj: models.Model | None = None,
    detail: dict[str, object] | None = None,
) -> AuditEntry:
    known = user if user is not None and user.is_authenticated else None
    return AuditEntry.objects.create(
        user=known,
        username=known.get_username() if known else "",
        action=action,
        content_type=ContentType.objects.get_for_model(obj, for_concrete_model=True) if obj is not None else None,
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        detail=detail or {},
    )


def record_export(user: User, conversations: models.QuerySet[Conversation], export_format: str) -> list[int]:
    """One audit entry per exported conversation, written before the first byte goes out.

    Returns the conversations' ids, in export order.
    """
    rows = list(conversations.order_by("pk").values_list("pk", "title"))
    content_type = ContentType.objects.get_for_model(Conversation)
    AuditEntry.objects.bulk_create(
        [
            AuditEntry(
                user=user,
                username=user.get_username(),
                action=AuditEntry.Action.EXPORT,
                content_type=content_type,
                object_id=str(pk),
                object_repr=(title or f"Conversation {pk}")[:200],
                detail={"format": export_format},
            )
            for pk, title in rows
        ],
        batch_size=1000,
    )
    return [pk for pk, _title in rows]


def give_feedback(user: User | AnonymousUser, message_id: int, vote: str, comment: str = "") -> Feedback | None:
    """Save, change or (with an empty vote) withdraw `user`'s verdict on their own answer.

    Returns the Feedback, or None once withdrawn.
    """
    if not user.is_authenticated:
        raise NotFound()
    message = Message.objects.visible_to(user).filter(pk=message_id, role=Message.Role.ASSISTANT).first()
    if message is None:
        raise NotFound()
    if message.status not in (Message.Status.DONE, Message.Status.STOPPED) or message.from_client:
        raise ReviewError("Only a finished answer can be rated.")
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise ReviewError(f"The comment is too long (the limit is {MAX_COMMENT_CHARS} characters).")
    if not vote:
        Feedback.objects.filter(message=message, user=user).delete()
        return None
    if vote not in Feedback.Vote.values:
        raise ReviewError("A vote is either up or down.")
    feedback, _created = Feedback.objects.update_or_create(
        message=message,
        user=user,
        defaults={"vote": vote, "comment": comment, "updated_at": timezone.now()},
    )
    return feedback


def set_review(user: User, conversation: Conversation, status: str, notes: str = "") -> ConversationReview:
    """Record a reviewer's verdict on a conversation (and who gave it, when)."""
    if status not in ConversationReview.Status.values:
        raise ReviewError("Unknown review status.")
    with transaction.atomic():
        review, _created = ConversationReview.objects.update_or_create(
            conversation=conversation,
            defaults={
                "status": status,
                "notes": (notes or "").strip(),
                "reviewed_by": user,
                "reviewed_at": timezone.now(),
            },
        )
        record_audit(user, AuditEntry.Action.REVIEW, conversation, {"status": status})
    return review


def promote_to_faq(user: User, answer_message: Message, question: str, answer: str) -> FAQEntry:
    """A draft FAQ entry from a question and its (possibly corrected) answer, linked to the conversation."""
    from chatapp.faq.actions import create_draft_entry

    if answer_message.from_client:
        raise ReviewError("This answer was written by the API client, not by the assistant: it cannot be promoted.")
    question = (question or "").strip()
    answer = (answer or "").strip()
    if not question or not answer:
        raise ReviewError("A FAQ entry needs both a question and an answer.")
    conversation = answer_message.conversation
    with transaction.atomic():
        entry = create_draft_entry(question, answer, conversation=conversation, message=answer_message, user=user)
        record_audit(
            user, AuditEntry.Action.PROMOTE, conversation, {"message": answer_message.pk, "faq_entry": entry.pk}
        )
    return entry


def conversations_older_than(days: int) -> models.QuerySet[Conversation]:
    return Conversation.objects.filter(updated_at__lt=timezone.now() - timedelta(days=days))


def purge_conversations(days: int, batch_size: int = 500) -> int:
    """Delete conversations whose last activity is more than `days` days old.

    Deleted the way their owners delete them (`chat.actions.delete_conversations`):
    generations still running are stopped and open sockets told. The image
    attachments' deletion signals remove their files once nothing refers to
    them. Batches keep each transaction short. Returns the number of conversations deleted.
    """
    if days < 1:
        raise ReviewError("Conversations must be at least one day old to be purged.")
    cutoff = timezone.now() - timedelta(days=days)
    deleted = 0
    while True:
        batch = list(
            Conversation.objects.filter(updated_at__lt=cutoff).order_by("pk").values_list("pk", flat=True)[:batch_size]
        )
        if not batch:
            break
        deleted += delete_conversations(Conversation.objects.filter(pk__in=batch))
    if deleted:
        sweep_image_files()
        record_audit(None, AuditEntry.Action.PURGE, None, {"older_than_days": days, "conversations": deleted})
    return deleted


def sweep_image_files() -> int:
    # Each deleted attachment already removes its files once committed; the
    # sweep also catches files left behind by a failure in between.
    return delete_unreferenced_images()
